/**
 * Flow-control metrics under llm-d's names (`llm_d_epp_flow_control_*`), on the registry the EPP
 * passes in. Label sets follow llm-d's; `inference_pool` is the pool name the controller was given.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { QueueOutcome } from './types.js';

const QUEUE_DURATION_BUCKETS = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

type QueueLabels = 'fairness_id' | 'priority' | 'inference_pool' | 'model_name' | 'target_model_name';

export interface QueueLabelValues {
  fairnessId: string;
  priority: number;
  model: string;
  targetModel: string;
}

export class FlowControlMetrics {
  readonly queueDuration: Histogram<QueueLabels | 'outcome'>;
  readonly queueSize: Gauge<QueueLabels>;
  readonly queueBytes: Gauge<QueueLabels>;
  readonly poolSaturation: Gauge<'inference_pool' | 'stage'>;
  readonly staleEndpoints: Gauge<'detector'>;
  readonly requestsTotal: Counter<'outcome' | 'priority' | 'inference_pool'>;

  constructor(registry: Registry, readonly pool = '') {
    const registers = [registry];
    const queueLabels: QueueLabels[] = ['fairness_id', 'priority', 'inference_pool', 'model_name', 'target_model_name'];
    this.queueDuration = new Histogram({ name: 'llm_d_epp_flow_control_request_queue_duration_seconds', help: 'Time requests spend in flow control, from enqueue to final outcome.', labelNames: [...queueLabels, 'outcome'], buckets: QUEUE_DURATION_BUCKETS, registers });
    this.queueSize = new Gauge({ name: 'llm_d_epp_flow_control_queue_size', help: 'Requests held in the flow-control queues.', labelNames: queueLabels, registers });
    this.queueBytes = new Gauge({ name: 'llm_d_epp_flow_control_queue_bytes', help: 'Bytes of the requests held in the flow-control queues.', labelNames: queueLabels, registers });
    this.poolSaturation = new Gauge({ name: 'llm_d_epp_flow_control_pool_saturation', help: 'Pool saturation gating flow-control dispatch (stale endpoints count as saturated).', labelNames: ['inference_pool', 'stage'], registers });
    this.staleEndpoints = new Gauge({ name: 'llm_d_epp_flow_control_stale_endpoints', help: 'Endpoints whose metrics were stale at the last saturation reading.', labelNames: ['detector'], registers });
    this.requestsTotal = new Counter({ name: 'llm_d_epp_flow_control_requests_total', help: 'Requests leaving flow control, by outcome.', labelNames: ['outcome', 'priority', 'inference_pool'], registers });
  }

  private labels(v: QueueLabelValues) {
    return { fairness_id: v.fairnessId, priority: String(v.priority), inference_pool: this.pool, model_name: v.model, target_model_name: v.targetModel };
  }

  queued(v: QueueLabelValues, bytes: number, delta: 1 | -1): void {
    this.queueSize.inc(this.labels(v), delta);
    this.queueBytes.inc(this.labels(v), delta * bytes);
  }

  finished(v: QueueLabelValues, outcome: QueueOutcome, seconds: number): void {
    this.queueDuration.observe({ ...this.labels(v), outcome }, seconds);
    this.requestsTotal.inc({ outcome, priority: String(v.priority), inference_pool: this.pool });
  }
}

/**
 * The one call the front door makes before scheduling: `await admission.admit(request, signal)`.
 * It reads the flow key from the headers (a bad header throws a 400 OpenAIError), lets the
 * probabilistic admitter shed sheddable requests (429), then — when the `flowControl` feature gate
 * is on — waits in the flow controller (gate off: a configured saturation detector sheds sheddable
 * requests while the pool is saturated). The caller must `ticket.release(usage)` when the response is
 * done, whatever happened. See docs/flow-control.md.
 */
import type { Endpoint } from '../framework/endpoint.js';
import type { InferenceRequest } from '../framework/request.js';
import type { ProbabilisticAdmitter } from './admitter.js';
import type { FlowControlSettings } from './config.js';
import { FlowController } from './controller.js';
import { flowKeyOf, type ObjectivePriorities } from './flow-key.js';
import type { FlowControlMetrics } from './metrics.js';
import type { SaturationDetector } from './saturation.js';
import type { AdmitResult, Clock, FlowTicket } from './types.js';

export interface AdmissionOptions {
  readonly endpoints: () => readonly Endpoint[];
  /** InferenceObjective priorities by name (none known: every request has priority 0). */
  readonly objectives?: ObjectivePriorities;
  /** Flow-control settings; absent when the `flowControl` feature gate is off. */
  readonly flowControl?: FlowControlSettings;
  readonly admitter?: ProbabilisticAdmitter;
  /**
   * Without the feature gate: sheds sheddable requests (priority < 0) while this detector says the
   * pool is saturated (≥ 1), as llm-d does when flow control is off.
   */
  readonly legacyDetector?: SaturationDetector;
  readonly metrics?: FlowControlMetrics;
  readonly clock?: Clock;
}

const NO_TICKET: FlowTicket = { waitedMs: 0, release: () => {} };

export class FlowControlAdmission {
  readonly controller: FlowController | undefined;
  private readonly objectives: ObjectivePriorities;

  constructor(private readonly options: AdmissionOptions) {
    this.objectives = options.objectives ?? (() => undefined);
    const settings = options.flowControl;
    this.controller = settings && new FlowController({
      detector: settings.detector,
      usageLimit: settings.usageLimit,
      bandFor: settings.bandFor,
      maxRequests: settings.maxRequests,
      maxBytes: settings.maxBytes,
      defaultRequestTtlMs: settings.defaultRequestTtlMs,
      noEndpointRequestTtlMs: settings.noEndpointRequestTtlMs,
      endpoints: options.endpoints,
      ...(options.metrics ? { metrics: options.metrics } : {}),
      ...(options.clock ? { clock: options.clock } : {}),
    });
  }

  /** The request's priority band (its InferenceObjective's priority); 0 when a header is malformed (admit() then answers 400). */
  priorityOf(request: InferenceRequest): number {
    try {
      return flowKeyOf(request.headers, this.objectives).priority;
    } catch {
      return 0;
    }
  }

  /** Throws OpenAIError(400) for a malformed fairness-id or objective header. */
  async admit(request: InferenceRequest, signal?: AbortSignal): Promise<AdmitResult> {
    const key = flowKeyOf(request.headers, this.objectives);
    if (this.options.admitter && !this.options.admitter.admit(key.priority, this.options.endpoints())) {
      return { admitted: false, status: 429, outcome: 'RejectedCapacity', droppedReason: 'rejected-saturated', message: 'sheddable request shed under load' };
    }
    const legacy = this.options.legacyDetector;
    if (!this.controller && legacy && key.priority < 0 && legacy.saturation({ endpoints: this.options.endpoints(), inFlight: 0, now: Date.now() }) >= 1) {
      return { admitted: false, status: 429, outcome: 'RejectedCapacity', droppedReason: 'rejected-saturated', message: 'sheddable request shed: the pool is saturated' };
    }
    if (!this.controller) return { admitted: true, ticket: NO_TICKET };
    return this.controller.admit({
      id: request.id,
      fairnessId: key.fairnessId,
      priority: key.priority,
      byteSize: request.rawBody.length,
      model: request.model,
      targetModel: request.targetModel,
    }, signal);
  }

  close(): void {
    this.controller?.close();
  }
}

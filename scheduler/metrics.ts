/**
 * The EPP's Prometheus metrics with llm-d's names, on an own registry served on
 * --metrics-port. Only what pd-router records is declared.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const LATENCY_BUCKETS = [0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1];

export class EppMetrics {
  readonly registry = new Registry();
  readonly requestTotal: Counter<'model_name' | 'target_model_name' | 'priority'>;
  readonly requestErrorTotal: Counter<'model_name' | 'target_model_name' | 'error_code'>;
  readonly requestDuration: Histogram<'model_name' | 'target_model_name'>;
  readonly runningRequests: Gauge<'model_name'>;
  readonly inputTokens: Histogram<'model_name' | 'target_model_name'>;
  readonly outputTokens: Histogram<'model_name' | 'target_model_name'>;
  readonly schedulerE2e: Histogram;
  readonly pluginDuration: Histogram<'extension_point' | 'plugin_type' | 'plugin_name'>;
  /** `reason`: the P/D decider's reason (docs/configuration.md lists them). */
  readonly disaggDecision: Counter<'model_name' | 'decision_type' | 'reason'>;
  readonly pdDecision: Counter<'model_name' | 'decision_type' | 'reason'>;
  readonly prefillFallback: Counter<'model_name' | 'reason'>;
  readonly readyPods: Gauge<'name'>;
  readonly pollErrors: Counter<'source_type'>;
  readonly scrapeTooLarge: Counter;

  /** Histogram children per plugin: label hashing on every observation is measurable per request. */
  private readonly pluginTimers = new Map<string, { observe(value: number): void }>();

  /** Records one plugin call's duration. */
  observePlugin(extensionPoint: string, plugin: { type: string; name: string }, seconds: number): void {
    const key = `${extensionPoint}\u0000${plugin.name}`;
    let timer = this.pluginTimers.get(key);
    if (!timer) {
      timer = this.pluginDuration.labels({ extension_point: extensionPoint, plugin_type: plugin.type, plugin_name: plugin.name });
      this.pluginTimers.set(key, timer);
    }
    timer.observe(seconds);
  }

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry });
    this.requestTotal = new Counter({ name: 'inference_objective_request_total', help: 'Requests received, by model.', labelNames: ['model_name', 'target_model_name', 'priority'], registers });
    this.requestErrorTotal = new Counter({ name: 'inference_objective_request_error_total', help: 'Requests answered with an error by the EPP.', labelNames: ['model_name', 'target_model_name', 'error_code'], registers });
    this.requestDuration = new Histogram({ name: 'inference_objective_request_duration_seconds', help: 'Request latency through the EPP front door (until the response ended).', labelNames: ['model_name', 'target_model_name'], buckets: [0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1, 1.25, 1.5, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 45, 60, 120, 180, 240, 300, 360, 480, 600, 900, 1200, 1800, 2700, 3600], registers });
    this.runningRequests = new Gauge({ name: 'inference_objective_running_requests', help: 'Requests in flight through the EPP.', labelNames: ['model_name'], registers });
    const tokenBuckets = [1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32778, 65536, 131072];
    this.inputTokens = new Histogram({ name: 'inference_objective_input_tokens', help: 'Prompt tokens per request (from usage).', labelNames: ['model_name', 'target_model_name'], buckets: tokenBuckets, registers });
    this.outputTokens = new Histogram({ name: 'inference_objective_output_tokens', help: 'Completion tokens per request (from usage).', labelNames: ['model_name', 'target_model_name'], buckets: tokenBuckets, registers });
    this.schedulerE2e = new Histogram({ name: 'inference_extension_scheduler_e2e_duration_seconds', help: 'Scheduling latency: data producers + profile runs + PreRequest.', buckets: LATENCY_BUCKETS, registers });
    this.pluginDuration = new Histogram({ name: 'inference_extension_plugin_duration_seconds', help: 'Latency of each plugin call.', labelNames: ['extension_point', 'plugin_type', 'plugin_name'], buckets: LATENCY_BUCKETS, registers });
    this.disaggDecision = new Counter({ name: 'llm_d_inference_scheduler_disagg_decision_total', help: 'P/D decisions by type (decode-only, prefill-decode, …) and the decider\'s reason.', labelNames: ['model_name', 'decision_type', 'reason'], registers });
    this.pdDecision = new Counter({ name: 'llm_d_inference_scheduler_pd_decision_total', help: 'P/D decisions by type and reason (deprecated pd-profile-handler name).', labelNames: ['model_name', 'decision_type', 'reason'], registers });
    this.prefillFallback = new Counter({ name: 'pd_router_prefill_unavailable_total', help: 'Requests that wanted a prefill pod but went decode-only because none was available.', labelNames: ['model_name', 'reason'], registers });
    this.readyPods = new Gauge({ name: 'inference_pool_ready_pods', help: 'Endpoints in the candidate set.', labelNames: ['name'], registers });
    this.pollErrors = new Counter({ name: 'llm_d_inference_scheduler_datalayer_poll_errors_total', help: 'Failed metric scrapes.', labelNames: ['source_type'], registers });
    this.scrapeTooLarge = new Counter({ name: 'pd_router_metrics_scrape_too_large_total', help: 'Metric scrapes cut off because the body passed --metrics-max-body-bytes.', registers });
  }
}

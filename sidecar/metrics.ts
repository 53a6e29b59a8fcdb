/**
 * The sidecar's own Prometheus metrics, on its own registry (never prom-client's global one),
 * served at `GET /sidecar/metrics` by the sidecar itself — `/metrics` is vLLM's and is proxied.
 *
 *   pd_sidecar_prefill_answer_too_large_total   prefill answers past --max-prefill-answer-bytes
 */
import { Counter, Registry } from 'prom-client';

export const METRICS_PATH = '/sidecar/metrics';

export class SidecarMetrics {
  readonly registry = new Registry();
  readonly prefillAnswerTooLarge = new Counter({
    name: 'pd_sidecar_prefill_answer_too_large_total',
    help: 'Prefill answers larger than --max-prefill-answer-bytes (the request failed with 502).',
    registers: [this.registry],
  });
}

/**
 * The sidecar's own Prometheus metrics, on its own registry (never prom-client's global one),
 * served at `GET /sidecar/metrics` by the sidecar itself — `/metrics` is vLLM's and is proxied —
 * and, with `--metrics-port` (upstream's flag), at `GET /metrics` on that port.
 *
 *   pd_sidecar_prefill_answer_too_large_total   prefill answers past --max-prefill-answer-bytes
 */
import type { RequestListener } from 'node:http';
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

/** The `--metrics-port` listener's handler: `GET /metrics` → the registry; anything else 404. */
export function metricsListener(metrics: SidecarMetrics): RequestListener {
  return (req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    metrics.registry.metrics().then((text) => {
      res.writeHead(200, { 'content-type': metrics.registry.contentType, 'content-length': Buffer.byteLength(text) }).end(text);
    }, (err: unknown) => {
      res.writeHead(500).end(String(err));
    });
  };
}

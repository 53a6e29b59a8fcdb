/**
 * Opt-in ext_proc stream metrics (`--enable-grpc-stream-metrics`), with llm-d's names:
 *
 *   llm_d_epp_extproc_streams_inflight          streams open now
 *   llm_d_epp_extproc_stream_duration_seconds   how long each stream stayed open
 *   llm_d_epp_extproc_streams_total{code}       streams ended, by gRPC status (OK, Canceled, Unknown)
 *
 * Registered on the EPP's registry only when the flag is given.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** What `track` needs of a grpc-js server stream. */
interface TrackedCall {
  once(event: 'finish' | 'cancelled' | 'error', listener: () => void): unknown;
}

export class ExtProcStreamMetrics {
  private readonly inflight: Gauge;
  private readonly duration: Histogram;
  private readonly total: Counter<'code'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.inflight = new Gauge({ name: 'llm_d_epp_extproc_streams_inflight', help: 'Number of ext_proc gRPC streams currently open.', registers });
    this.duration = new Histogram({
      name: 'llm_d_epp_extproc_stream_duration_seconds', help: 'Duration an ext_proc gRPC stream stays open, in seconds.',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600], registers,
    });
    this.total = new Counter({ name: 'llm_d_epp_extproc_streams_total', help: 'Total ext_proc gRPC streams completed, by gRPC status code.', labelNames: ['code'], registers });
  }

  /** Counts one stream from now until it ends (once, whichever way). */
  track(call: TrackedCall): void {
    this.inflight.inc();
    const started = performance.now();
    let ended = false;
    const end = (code: string): void => {
      if (ended) return;
      ended = true;
      this.inflight.dec();
      this.duration.observe((performance.now() - started) / 1000);
      this.total.inc({ code });
    };
    // grpc-js also emits 'cancelled' when a finished stream closes: the first event decides.
    call.once('finish', () => end('OK'));
    call.once('cancelled', () => end('Canceled'));
    call.once('error', () => end('Unknown'));
  }
}

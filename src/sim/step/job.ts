/**
 * A request in the step engine: what the caller hands in (StepJob, with the StepSink its events go
 * to) and the engine's record of it (Live: scheduler state plus its timeline), whose finished
 * timeline becomes vLLM's per-request histograms.
 */
import type { OpenAIError } from '../../openai/errors.js';
import type { SimMetrics } from '../metrics.js';
import type { SchedRequest } from './scheduler.js';

export interface StepSink {
  started(): void;
  /** The `index`-th generated token is out. */
  token(index: number): void;
  finished(outcome: { cachedTokens: number; preemptions: number }): void;
  failed(error: OpenAIError): void;
}

export interface StepJob {
  id: string;
  promptIds: readonly number[];
  /** The tokens this request will generate (their count is the output length). */
  outputIds: readonly number[];
  /** Block-key root: the model (or LoRA) name. */
  model: string;
  lora?: { id: number; name: string } | undefined;
  remotePrefill: boolean;
  remoteDecode: boolean;
  /** The id a pull releases a prefill leg's blocks by (the HTTP request's; default `id`). */
  releaseId?: string;
  /** Decode leg: the prompt's KV arrived (the blocks were read from the prefill pod). */
  onTransferred?: (() => void) | undefined;
  sink: StepSink;
}

export interface Live extends SchedRequest {
  job: StepJob;
  /** The API server began its input processing (vLLM's arrival_time: TTFT and e2e count from it). */
  arrivedAt: number;
  /** The engine core got it (queue time counts from it). */
  queuedAt: number;
  scheduledAt: number;
  firstTokenAt: number;
  lastTokenAt: number;
  preemptions: number;
}

/**
 * A finished request's histograms, as vLLM's: TTFT and e2e from the API server's arrival, queue
 * time from the engine core's, prefill / decode / inference and time per output token from the
 * engine's own step ends.
 */
export function recordFinished(metrics: SimMetrics, request: Live, end: number): void {
  const decodeSeconds = (end - request.firstTokenAt) / 1000;
  const gaps = request.emitted - 1;
  metrics.requestTimePerOutputToken(gaps > 0 ? decodeSeconds / gaps : 0);
  metrics.decode(decodeSeconds);
  metrics.queued((request.scheduledAt - request.queuedAt) / 1000);
  metrics.inference((end - request.scheduledAt) / 1000);
  metrics.e2eLatency((end - request.arrivedAt) / 1000);
}

/**
 * The one info line the sidecar writes per P/D request, when the client's answer is over:
 * `requestId`, `mode` (`pd` | `decode` | `epd`), `prefillTarget`, `status`, `prefillMs`,
 * `decodeMs`, `totalMs` and `error` when something failed. Connectors fill the timings in as
 * they go; the pipeline writes the line when it is over.
 */
import type { ServerResponse } from 'node:http';
import type { Logger } from '../src/log.js';

export type RequestMode = 'pd' | 'decode' | 'epd';

export interface RequestRecord {
  readonly requestId: string;
  mode: RequestMode;
  prefillTarget?: string;
  prefillMs?: number;
  decodeMs?: number;
  error?: string;
}

const round = (ms: number): number => Math.round(ms * 10) / 10;

/** Writes the line; called once the pipeline is over (the answer is written, or the client is gone). */
export function logRequest(logger: Logger, res: ServerResponse, record: RequestRecord, startedAt: number): void {
  const aborted = !res.writableFinished;
  logger.info({
    requestId: record.requestId,
    mode: record.mode,
    prefillTarget: record.prefillTarget,
    status: res.headersSent ? res.statusCode : undefined,
    prefillMs: record.prefillMs === undefined ? undefined : round(record.prefillMs),
    decodeMs: record.decodeMs === undefined ? undefined : round(record.decodeMs),
    totalMs: round(performance.now() - startedAt),
    error: record.error ?? (aborted ? 'connection closed before the answer was complete' : undefined),
  }, 'request');
}

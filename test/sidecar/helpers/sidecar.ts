/** In-process sidecar for tests: plain HTTP on 127.0.0.1:0 in front of a fake vLLM, logs captured. */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Agent, request, type Dispatcher } from 'undici';
import type { Logger } from '../../../src/log.js';
import type { SidecarConfigInput } from '../../../sidecar/config.js';
import { startSidecar, type RunningSidecar, type SidecarDeps } from '../../../sidecar/main.js';

export interface CapturedLogger {
  logger: Logger;
  lines: Array<{ msg?: string; level?: number; [key: string]: unknown }>;
}

export function captureLogger(): CapturedLogger {
  const lines: CapturedLogger['lines'] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line) as CapturedLogger['lines'][number]);
      callback();
    },
  });
  return { logger: pino({ level: 'debug' }, sink), lines };
}

export interface TestSidecar extends RunningSidecar {
  logs: CapturedLogger['lines'];
}

export async function startTestSidecar(vllmPort: number, config: SidecarConfigInput = {}, deps: SidecarDeps = {}): Promise<TestSidecar> {
  const captured = captureLogger();
  const sidecar = await startSidecar(
    { port: 0, host: '127.0.0.1', vllmHost: '127.0.0.1', vllmPort, secureProxy: false, shutdownGraceMs: 2000, ...config },
    { logger: captured.logger, ...deps },
  );
  return Object.assign(sidecar, { logs: captured.lines });
}

/** A client that accepts the sidecar's self-signed certificate. */
export const insecureAgent = new Agent({ connect: { rejectUnauthorized: false } });

export interface ClientAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: () => Record<string, unknown>;
}

/** POSTs a JSON body with extra headers (arrays become repeated header lines). */
export async function post(
  url: string,
  body: unknown,
  headers: Record<string, string | string[]> = {},
  dispatcher?: Dispatcher,
): Promise<ClientAnswer> {
  const flat: string[] = ['content-type', 'application/json'];
  for (const [name, value] of Object.entries(headers)) {
    for (const item of Array.isArray(value) ? value : [value]) flat.push(name, item);
  }
  const answer = await request(url, {
    method: 'POST',
    headers: flat,
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...(dispatcher ? { dispatcher } : {}),
  });
  const text = await answer.body.text();
  return { status: answer.statusCode, headers: answer.headers, text, json: () => JSON.parse(text) as Record<string, unknown> };
}

/**
 * A "fake vLLM" for sidecar tests: a real HTTP(S) server on 127.0.0.1:0 that records every request
 * (method, url, headers, raw header lines, body) and answers with a handler the test sets. It is a
 * real socket, not a mock: the sidecar's pools, streaming and error paths run for real.
 */
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { selfSignedCertificate } from '../../../src/http/tls.js';

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  body: string;
  /** The body parsed as JSON when it is JSON. */
  json: Record<string, unknown> | undefined;
  /** Resolves when the sidecar closed this request's connection or the response finished. */
  closed: Promise<'finished' | 'aborted'>;
}

export type FakeHandler = (request: RecordedRequest, res: ServerResponse, req: IncomingMessage) => void | Promise<void>;

export interface FakeVllm {
  readonly url: string;
  readonly port: number;
  /** `127.0.0.1:<port>`, what the EPP would put in x-prefiller-host-port. */
  readonly hostPort: string;
  readonly requests: RecordedRequest[];
  handler: FakeHandler;
  /** Resolves with the n-th request (1-based) once it has arrived. */
  nthRequest(n: number): Promise<RecordedRequest>;
  close(): Promise<void>;
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function sendSse(res: ServerResponse, raw: string): void {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  res.end(raw);
}

export async function startFakeVllm(handler: FakeHandler = (_r, res) => sendJson(res, 200, { ok: true }), options: { tls?: boolean; port?: number } = {}): Promise<FakeVllm> {
  const requests: RecordedRequest[] = [];
  const waiters: Array<{ n: number; resolve: (r: RecordedRequest) => void }> = [];
  const fake: FakeVllm = {
    url: '',
    port: 0,
    hostPort: '',
    requests,
    handler,
    nthRequest(n) {
      if (requests.length >= n) return Promise.resolve(requests[n - 1]!);
      return new Promise((resolve) => waiters.push({ n, resolve }));
    },
    close: async () => undefined,
  };
  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let json: Record<string, unknown> | undefined;
      try {
        json = JSON.parse(body) as Record<string, unknown>;
      } catch {
        json = undefined;
      }
      const closed = new Promise<'finished' | 'aborted'>((resolve) => {
        res.once('close', () => resolve(res.writableFinished ? 'finished' : 'aborted'));
      });
      const recorded: RecordedRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders, body, json, closed };
      requests.push(recorded);
      for (const waiter of [...waiters]) {
        if (requests.length >= waiter.n) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(requests[waiter.n - 1]!);
        }
      }
      Promise.resolve(fake.handler(recorded, res, req)).catch((err: unknown) => {
        if (!res.headersSent) sendJson(res, 500, { error: String(err) });
      });
    });
  };
  const server = options.tls
    ? https.createServer(await selfSignedCertificate('fake vLLM'), listener)
    : http.createServer(listener);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  Object.assign(fake, {
    port,
    hostPort: `127.0.0.1:${port}`,
    url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  });
  return fake;
}

/** What vLLM's NixlConnector prefill answers (the upstream test mock: cached_tokens 7). */
export const PREFILL_ANSWER = '{"kv_transfer_params":{"remote_block_ids":[1, 2, 3], "remote_engine_id": "5b5fb28f-3f30-4bdd-9a36-958d52459200", "remote_host":"ahost", "remote_port":4032},"usage":{"prompt_tokens":64,"completion_tokens":1,"total_tokens":65,"prompt_tokens_details":{"cached_tokens":7}}}';

/** A decode answer reporting 49 cached tokens (what a NIXL pull looks like to the decoder). */
export const DECODE_ANSWER = '{"id":"chatcmpl-test","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":64,"completion_tokens":1,"total_tokens":65,"prompt_tokens_details":{"cached_tokens":49}}}';

export const DECODE_SSE =
  'data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"hello"}}]}\n\n' +
  'data: {"id":"c","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":64,"completion_tokens":1,"total_tokens":65,"prompt_tokens_details":{"cached_tokens":49}}}\n\n' +
  'data: [DONE]\n\n';

/** `count` fake vLLMs on consecutive ports (data-parallel ranks sit at vllm-port + i). */
export async function startConsecutiveFakes(count: number, handler: (rank: number) => FakeHandler): Promise<FakeVllm[]> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const first = await startFakeVllm(handler(0));
    const fakes = [first];
    try {
      for (let rank = 1; rank < count; rank++) fakes.push(await startFakeVllm(handler(rank), { port: first.port + rank }));
      return fakes;
    } catch {
      await Promise.all(fakes.map((fake) => fake.close()));
    }
  }
  throw new Error(`no ${count} consecutive free ports`);
}

/** A base port whose next `count` ports are free right now (for listeners that need port + i). */
export async function freeConsecutivePorts(count: number): Promise<number> {
  const fakes = await startConsecutiveFakes(count, () => () => undefined);
  await Promise.all(fakes.map((fake) => fake.close()));
  return fakes[0]!.port;
}

/**
 * A decoder whose SSE answer sends its first event at once and ends (`data: [DONE]`) only after
 * `release()`: shows that a proxy streams event by event, or that a draining process waits.
 */
export async function startHeldStreamVllm(): Promise<{ decoder: FakeVllm; release: () => void }> {
  let release!: () => void;
  const released = new Promise<void>((resolve) => { release = resolve; });
  const decoder = await startFakeVllm(async (_r, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('data: {"n":1}\n\n');
    await released;
    res.end('data: [DONE]\n\n');
  });
  return { decoder, release };
}

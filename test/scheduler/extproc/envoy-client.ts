/**
 * A gRPC client that talks ext_proc the way Envoy does in FULL_DUPLEX_STREAMED mode: request headers
 * as raw_value, the body in chunks with end_of_stream on the last, then the response phase. Uses
 * the same trimmed proto as the server.
 */
import * as grpc from '@grpc/grpc-js';
import { loadProtos } from '../../../scheduler/extproc/proto.js';
import type {
  HeaderMap, Metadata, ProcessingRequest, ProcessingResponse, Struct,
} from '../../../scheduler/extproc/proto.js';
import { mutationPairs } from '../../../scheduler/extproc/headers.js';

export type { ProcessingResponse };

export interface ClientTls {
  /** Trusted CA (the server's self-signed certificate); absent: accept any certificate, as Envoy with no validation context. */
  ca?: string;
}

export function headerMap(headers: Record<string, string>): HeaderMap {
  return { headers: Object.entries(headers).map(([key, value]) => ({ key, raw_value: Buffer.from(value) })) };
}

export const requestHeaders = (headers: Record<string, string>, endOfStream = false, metadata?: Metadata): ProcessingRequest =>
  ({ request_headers: { headers: headerMap(headers), end_of_stream: endOfStream }, ...(metadata ? { metadata_context: metadata } : {}) });
export const requestBody = (body: Buffer | string, endOfStream: boolean): ProcessingRequest =>
  ({ request_body: { body: Buffer.from(body), end_of_stream: endOfStream } });
export const requestTrailers = (trailers: Record<string, string> = {}): ProcessingRequest =>
  ({ request_trailers: { trailers: headerMap(trailers) } });
export const responseHeaders = (headers: Record<string, string>, endOfStream = false): ProcessingRequest =>
  ({ response_headers: { headers: headerMap(headers), end_of_stream: endOfStream } });
export const responseBody = (body: Buffer | string, endOfStream: boolean): ProcessingRequest =>
  ({ response_body: { body: Buffer.from(body), end_of_stream: endOfStream } });
export const responseTrailers = (trailers: Record<string, string> = {}): ProcessingRequest =>
  ({ response_trailers: { trailers: headerMap(trailers) } });

/** `{ "envoy.lb.subset_hint": { "x-gateway-destination-endpoint-subset": [...] } }` */
export function subsetMetadata(hostPorts: string[]): Metadata {
  const hint: Struct = { fields: { 'x-gateway-destination-endpoint-subset': { list_value: { values: hostPorts.map((v) => ({ string_value: v })) } } } };
  return { filter_metadata: { 'envoy.lb.subset_hint': hint } };
}

/** One Process stream, with a queue of received messages. */
export class ExtProcCall {
  readonly stream: grpc.ClientDuplexStream<ProcessingRequest, ProcessingResponse>;
  readonly received: ProcessingResponse[] = [];
  /** Resolves with the final gRPC status. */
  readonly status: Promise<grpc.StatusObject>;
  private readonly waiters: Array<() => void> = [];
  private read = 0;
  private ended = false;

  constructor(stream: grpc.ClientDuplexStream<ProcessingRequest, ProcessingResponse>) {
    this.stream = stream;
    stream.on('data', (message: ProcessingResponse) => {
      this.received.push(message);
      this.wake();
    });
    stream.on('error', () => undefined); // cancellations surface through `status`
    this.status = new Promise((resolve) => stream.on('status', (status: grpc.StatusObject) => {
      this.ended = true;
      this.wake();
      resolve(status);
    }));
  }

  send(...messages: ProcessingRequest[]): this {
    for (const message of messages) this.stream.write(message);
    return this;
  }

  /** Sends a body in `chunkSize` pieces, end_of_stream on the last. */
  sendBody(body: Buffer | string, chunkSize: number): this {
    const bytes = Buffer.from(body);
    for (let offset = 0; offset < bytes.length; offset += chunkSize) {
      const end = Math.min(bytes.length, offset + chunkSize);
      this.send(requestBody(bytes.subarray(offset, end), end >= bytes.length));
    }
    return this;
  }

  /** The next unread message (rejects after `timeoutMs`, or when the stream ended first). */
  async next(timeoutMs = 5000): Promise<ProcessingResponse> {
    const deadline = Date.now() + timeoutMs;
    while (this.read >= this.received.length) {
      if (this.ended) throw new Error('stream ended before the next message');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ext_proc message within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.received[this.read++]!;
  }

  /** Reads messages until one satisfies `done` (inclusive). */
  async until(done: (message: ProcessingResponse) => boolean, timeoutMs = 5000): Promise<ProcessingResponse[]> {
    const out: ProcessingResponse[] = [];
    for (;;) {
      const message = await this.next(timeoutMs);
      out.push(message);
      if (done(message)) return out;
    }
  }

  /** True when nothing arrives within `ms` (for "sends nothing until …" assertions). */
  async quietFor(ms: number): Promise<boolean> {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return this.read >= this.received.length;
  }

  /** Half-close, as Envoy does when the HTTP stream is done; resolves with the final status. */
  end(): Promise<grpc.StatusObject> {
    this.stream.end();
    return this.status;
  }

  cancel(): Promise<grpc.StatusObject> {
    this.stream.cancel();
    return this.status;
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }
}

export class EnvoyLikeClient {
  private readonly client: grpc.Client;

  constructor(port: number, tls?: ClientTls | false) {
    const Ctor = grpc.makeGenericClientConstructor(loadProtos().extProc, 'ExternalProcessor');
    const credentials = tls
      ? grpc.credentials.createSsl(tls.ca ? Buffer.from(tls.ca) : null, null, null, {
        checkServerIdentity: () => undefined,
        ...(tls.ca ? {} : { rejectUnauthorized: false }),
      })
      : grpc.credentials.createInsecure();
    this.client = new Ctor(`127.0.0.1:${port}`, credentials);
  }

  open(metadata?: Record<string, string>): ExtProcCall {
    const md = new grpc.Metadata();
    for (const [key, value] of Object.entries(metadata ?? {})) md.set(key, value);
    const process = (this.client as unknown as { Process(md: grpc.Metadata): grpc.ClientDuplexStream<ProcessingRequest, ProcessingResponse> }).Process.bind(this.client);
    return new ExtProcCall(process(md));
  }

  close(): void {
    this.client.close();
  }
}

// ------------------------------------------------------------------ reading answers

export const isRequestBodyEnd = (m: ProcessingResponse): boolean =>
  m.request_body?.response?.body_mutation?.streamed_response?.end_of_stream === true || m.immediate_response !== undefined;
export const isResponseBodyEnd = (m: ProcessingResponse): boolean =>
  m.response_body?.response?.body_mutation?.streamed_response?.end_of_stream === true;

export function setHeadersOf(message: ProcessingResponse, phase: 'request_headers' | 'response_headers' = 'request_headers'): Array<[string, string]> {
  return mutationPairs(message[phase]?.response?.header_mutation);
}

export function removeHeadersOf(message: ProcessingResponse, phase: 'request_headers' | 'response_headers' = 'request_headers'): string[] {
  return message[phase]?.response?.header_mutation?.remove_headers ?? [];
}

export function bodyOf(message: ProcessingResponse, phase: 'request_body' | 'response_body'): Buffer {
  return Buffer.from(message[phase]?.response?.body_mutation?.streamed_response?.body ?? Buffer.alloc(0));
}

export function immediateOf(message: ProcessingResponse): { status: number; body: unknown; headers: Array<[string, string]> } | undefined {
  const immediate = message.immediate_response;
  if (!immediate) return undefined;
  return { status: immediate.status.code, body: JSON.parse(Buffer.from(immediate.body ?? Buffer.alloc(0)).toString('utf8')), headers: mutationPairs(immediate.headers) };
}

/**
 * An Envoy-shaped ext_proc client for the benchmarks: one gRPC stream per request carrying the
 * request headers, then the body (in chunks, as Envoy's streamed body mode sends it, the last with
 * end_of_stream); resolves with the EPP's answers once the body comes back (or an immediate
 * response ends the exchange).
 */
import * as grpc from '@grpc/grpc-js';
import { loadProtos, type ProcessingRequest, type ProcessingResponse } from '../scheduler/extproc/proto.js';

export type ExtProcClient = grpc.Client;

export function extProcClient(port: number): ExtProcClient {
  const Client = grpc.makeGenericClientConstructor(loadProtos().extProc, 'ExternalProcessor');
  return new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { 'grpc.max_send_message_length': 64 * 1024 * 1024 });
}

export function headersMessage(path = '/v1/chat/completions', extra: Record<string, string> = {}): ProcessingRequest {
  const headers = { ':method': 'POST', ':path': path, ':authority': 'gw', 'content-type': 'application/json', ...extra };
  return { request_headers: { headers: { headers: Object.entries(headers).map(([key, value]) => ({ key, raw_value: Buffer.from(value) })) }, end_of_stream: false } };
}

/** The value of `name` in the EPP's request-headers answer, if it set one. */
export function setHeader(message: ProcessingResponse, name: string): string | undefined {
  const set = message.request_headers?.response?.header_mutation?.set_headers ?? [];
  const found = set.find((option) => option.header?.key === name);
  const raw = found?.header?.raw_value;
  return raw === undefined ? found?.header?.value : Buffer.from(raw).toString();
}

/**
 * One request phase on a fresh stream. `chunkBytes` splits the body (default: one message).
 * Resolves with every message the EPP sent.
 */
export function exchange(client: ExtProcClient, body: Buffer, options: { chunkBytes?: number; headers?: ProcessingRequest } = {}): Promise<ProcessingResponse[]> {
  return new Promise((resolve, reject) => {
    const received: ProcessingResponse[] = [];
    const call = (client as unknown as { Process(): grpc.ClientDuplexStream<ProcessingRequest, ProcessingResponse> }).Process();
    call.on('data', (message: ProcessingResponse) => {
      received.push(message);
      if (message.request_body?.response?.body_mutation?.streamed_response?.end_of_stream || message.immediate_response) call.end();
    });
    call.on('error', (err: grpc.ServiceError) => (err.code === grpc.status.CANCELLED ? resolve(received) : reject(err)));
    call.on('end', () => resolve(received));
    call.write(options.headers ?? headersMessage());
    const size = options.chunkBytes ?? body.length;
    for (let offset = 0; offset < body.length || offset === 0; offset += Math.max(1, size)) {
      const end = Math.min(body.length, offset + Math.max(1, size));
      call.write({ request_body: { body: body.subarray(offset, end), end_of_stream: end >= body.length } });
      if (end >= body.length) break;
    }
  });
}

export interface EnvoyRequest {
  path: string;
  body: Buffer;
  headers?: Record<string, string>;
}

export interface EnvoyAnswer {
  status: number;
  body: Buffer;
}

/**
 * One HTTP request the whole way Envoy takes it (FULL_DUPLEX_STREAMED): the request phase on a
 * fresh stream, then the request — with the EPP's header mutations applied and its (possibly
 * rewritten) body — sent over HTTP to the destination the EPP chose (`x-gateway-destination-endpoint`),
 * then the upstream's response headers and body through the same stream, which ends when the
 * EPP has answered the response body's end. An ImmediateResponse is returned as the answer.
 */
export function envoyRoundTrip(client: ExtProcClient, request: EnvoyRequest): Promise<EnvoyAnswer> {
  const call = (client as unknown as { Process(): grpc.ClientDuplexStream<ProcessingRequest, ProcessingResponse> }).Process();
  const inbox: ProcessingResponse[] = [];
  const waiters: Array<() => void> = [];
  let failure: Error | undefined;
  const wake = (): void => { for (const waiter of waiters.splice(0)) waiter(); };
  call.on('data', (message: ProcessingResponse) => { inbox.push(message); wake(); });
  call.on('error', (err: Error) => { failure = err; wake(); });
  const ended = new Promise<void>((resolve) => call.on('status', () => resolve()));
  /** Messages until one satisfies `done` (inclusive). */
  const until = async (done: (message: ProcessingResponse) => boolean): Promise<ProcessingResponse[]> => {
    const out: ProcessingResponse[] = [];
    for (;;) {
      while (inbox.length === 0) {
        if (failure) throw failure;
        await new Promise<void>((resolve) => waiters.push(resolve));
      }
      const message = inbox.shift()!;
      out.push(message);
      if (done(message)) return out;
    }
  };
  const run = async (): Promise<EnvoyAnswer> => {
    const headers: Record<string, string> = { ':method': 'POST', ':path': request.path, ':authority': 'gw', 'content-type': 'application/json', ...request.headers };
    call.write(headersMessage(request.path, request.headers));
    call.write({ request_body: { body: request.body, end_of_stream: true } });
    const answers = await until((m) => m.immediate_response !== undefined || m.request_body?.response?.body_mutation?.streamed_response?.end_of_stream === true);
    const immediate = answers.find((m) => m.immediate_response)?.immediate_response;
    if (immediate) {
      call.end();
      return { status: immediate.status.code, body: Buffer.from(immediate.body ?? Buffer.alloc(0)) };
    }
    const mutation = answers[0]?.request_headers?.response?.header_mutation;
    for (const option of mutation?.set_headers ?? []) {
      const raw = option.header?.raw_value;
      headers[option.header!.key!.toLowerCase()] = raw === undefined ? option.header?.value ?? '' : Buffer.from(raw).toString();
    }
    for (const name of mutation?.remove_headers ?? []) delete headers[name];
    const destination = headers['x-gateway-destination-endpoint'];
    if (!destination) throw new Error('the EPP chose no destination');
    const body = Buffer.concat(answers.map((m) => Buffer.from(m.request_body?.response?.body_mutation?.streamed_response?.body ?? Buffer.alloc(0))));
    const upstreamHeaders = Object.fromEntries(Object.entries(headers).filter(([name]) => !name.startsWith(':') && name !== 'content-length' && name !== 'host'));
    const res = await fetch(`http://${destination.split(',')[0]}${request.path}`, { method: 'POST', headers: upstreamHeaders, body });
    const responseHeaders = [[':status', String(res.status)], ...res.headers] as Array<[string, string]>;
    call.write({ response_headers: { headers: { headers: responseHeaders.map(([key, value]) => ({ key, raw_value: Buffer.from(value) })) }, end_of_stream: false } });
    call.write({ response_body: { body: Buffer.from(await res.arrayBuffer()), end_of_stream: true } });
    const out = await until((m) => m.response_body?.response?.body_mutation?.streamed_response?.end_of_stream === true);
    call.end();
    await ended;
    return { status: res.status, body: Buffer.concat(out.map((m) => Buffer.from(m.response_body?.response?.body_mutation?.streamed_response?.body ?? Buffer.alloc(0)))) };
  };
  return run();
}

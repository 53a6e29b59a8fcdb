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

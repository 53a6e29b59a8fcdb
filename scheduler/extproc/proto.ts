/**
 * Loads our trimmed Envoy ext_proc and gRPC health protos (scheduler/extproc/proto/) and
 * describes the wire objects the EPP reads and writes, in proto-loader's shape: snake_case
 * field names (keepCase), bytes as Buffer, enums as numbers, unset fields absent, and a
 * `request`/`response` property naming the member set in a oneof.
 *
 * The .proto files are not TypeScript, so `tsc` does not copy them into dist/. They are found
 * next to this module (source tree, or a dist/ build someone copied them into), else under the
 * package root (the nearest directory holding package.json) at scheduler/extproc/proto/. A
 * container image must therefore ship `scheduler/extproc/proto/` beside `dist/` and package.json.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export const EXT_PROC_SERVICE = 'envoy.service.ext_proc.v3.ExternalProcessor';
export const HEALTH_SERVICE = 'grpc.health.v1.Health';

const PROTO_SUBDIR = join('scheduler', 'extproc', 'proto');

/** The directory holding ext_proc.proto and health.proto; throws with every place looked at. */
export function protoDir(moduleUrl: string = import.meta.url): string {
  const here = dirname(fileURLToPath(moduleUrl));
  const tried: string[] = [join(here, 'proto')];
  for (let dir = here; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) {
      tried.push(join(dir, PROTO_SUBDIR));
      break;
    }
    if (dirname(dir) === dir) break;
  }
  const found = tried.find((candidate) => existsSync(join(candidate, 'ext_proc.proto')));
  if (!found) throw new Error(`ext_proc.proto not found; looked in ${tried.join(', ')}`);
  return found;
}

const LOADER_OPTIONS: protoLoader.Options = { keepCase: true, longs: String, defaults: false, oneofs: true };

export interface ProtoDefinitions {
  readonly extProc: grpc.ServiceDefinition;
  readonly health: grpc.ServiceDefinition;
}

let cached: ProtoDefinitions | undefined;

/** Service definitions for grpc-js servers and clients (loaded once per process). */
export function loadProtos(): ProtoDefinitions {
  if (cached) return cached;
  const dir = protoDir();
  const extProc = protoLoader.loadSync(join(dir, 'ext_proc.proto'), LOADER_OPTIONS);
  const health = protoLoader.loadSync(join(dir, 'health.proto'), LOADER_OPTIONS);
  cached = {
    extProc: extProc[EXT_PROC_SERVICE] as grpc.ServiceDefinition,
    health: health[HEALTH_SERVICE] as grpc.ServiceDefinition,
  };
  return cached;
}

// ------------------------------------------------------------------ shared (envoy.config.core.v3)

export interface HeaderValue {
  key?: string;
  value?: string;
  raw_value?: Uint8Array;
}

export interface HeaderMap {
  headers?: HeaderValue[];
}

/** HeaderValueOption.HeaderAppendAction: the EPP only overwrites (0 would append). */
export const OVERWRITE_IF_EXISTS_OR_ADD = 2;

export interface HeaderValueOption {
  header: HeaderValue;
  append_action?: number;
}

/** google.protobuf.Struct / Value / ListValue, with the oneof name in `kind` when decoded. */
export interface Struct {
  fields?: Record<string, StructValue>;
}

export interface StructValue {
  kind?: 'null_value' | 'number_value' | 'string_value' | 'bool_value' | 'struct_value' | 'list_value';
  null_value?: number;
  number_value?: number;
  string_value?: string;
  bool_value?: boolean;
  struct_value?: Struct;
  list_value?: { values?: StructValue[] };
}

export interface Metadata {
  filter_metadata?: Record<string, Struct>;
}

// ------------------------------------------------------------------ Envoy → EPP

export interface HttpHeaders {
  headers?: HeaderMap;
  end_of_stream?: boolean;
}

export interface HttpBody {
  body?: Uint8Array;
  end_of_stream?: boolean;
  end_of_stream_without_message?: boolean;
}

export interface HttpTrailers {
  trailers?: HeaderMap;
}

export type RequestKind = 'request_headers' | 'response_headers' | 'request_body' | 'response_body' | 'request_trailers' | 'response_trailers';

export interface ProcessingRequest {
  request?: RequestKind;
  request_headers?: HttpHeaders;
  response_headers?: HttpHeaders;
  request_body?: HttpBody;
  response_body?: HttpBody;
  request_trailers?: HttpTrailers;
  response_trailers?: HttpTrailers;
  metadata_context?: Metadata;
  observability_mode?: boolean;
  /** Only on the first message of a stream. */
  protocol_config?: { request_body_mode?: number; response_body_mode?: number };
}

/** ProcessingMode.BodySendMode.FULL_DUPLEX_STREAMED, the only mode the EPP serves. */
export const FULL_DUPLEX_STREAMED = 4;

// ------------------------------------------------------------------ EPP → Envoy

export interface HeaderMutation {
  set_headers?: HeaderValueOption[];
  remove_headers?: string[];
}

export interface StreamedBodyResponse {
  body: Uint8Array;
  end_of_stream: boolean;
}

export interface BodyMutation {
  streamed_response?: StreamedBodyResponse;
}

export interface CommonResponse {
  status?: number;
  header_mutation?: HeaderMutation;
  body_mutation?: BodyMutation;
  clear_route_cache?: boolean;
}

export interface ImmediateResponse {
  status: { code: number };
  headers?: HeaderMutation;
  body?: Uint8Array;
  details?: string;
}

export type ResponseKind = 'request_headers' | 'response_headers' | 'request_body' | 'response_body' | 'request_trailers' | 'response_trailers' | 'immediate_response';

export interface ProcessingResponse {
  /** Set on decoded messages only (oneofs); ignored when encoding. */
  response?: ResponseKind;
  request_headers?: { response?: CommonResponse };
  response_headers?: { response?: CommonResponse };
  request_body?: { response?: CommonResponse };
  response_body?: { response?: CommonResponse };
  request_trailers?: { header_mutation?: HeaderMutation };
  response_trailers?: { header_mutation?: HeaderMutation };
  immediate_response?: ImmediateResponse;
  dynamic_metadata?: Struct;
}

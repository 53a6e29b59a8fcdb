/**
 * Conversions between Envoy's wire header/metadata shapes and the EPP's plain maps: header maps
 * in (raw_value, else value), header mutations out (always raw_value), google.protobuf.Struct
 * both ways, and the endpoint subset hint.
 */
import type { HeaderMap, HeaderMutation, HeaderValueOption, Metadata, Struct, StructValue } from './proto.js';
import { OVERWRITE_IF_EXISTS_OR_ADD } from './proto.js';

/**
 * Headers the EPP owns: never echoed back from the request's map; the EPP sets
 * the ones it means to set itself.
 */
export const SYSTEM_OWNED_HEADERS: ReadonlySet<string> = new Set([
  'x-gateway-inference-fairness-id',
  'x-gateway-inference-objective',
  'x-gateway-model-name-rewrite',
  'x-gateway-destination-endpoint-subset',
  'x-gateway-destination-endpoint',
  'x-gateway-destination-endpoint-served',
  'content-length',
]);

/** Trace headers: the injected ones are the only ones sent, a client's are never echoed. */
export const TRACE_HEADERS: ReadonlySet<string> = new Set(['traceparent', 'tracestate', 'baggage']);

export const SUBSET_HINT_NAMESPACE = 'envoy.lb.subset_hint';
export const SUBSET_HINT_KEY = 'x-gateway-destination-endpoint-subset';
export const LB_METADATA_NAMESPACE = 'envoy.lb';

/**
 * Envoy's header list as a map with lower-case names. Repeated headers are joined the way HTTP
 * allows (`, `; `; ` for cookie) so the echoed value keeps every field line.
 */
export function headerMapToMap(map: HeaderMap | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const header of map?.headers ?? []) {
    if (!header.key) continue;
    const name = header.key.toLowerCase();
    const value = header.raw_value && header.raw_value.length > 0
      ? Buffer.from(header.raw_value.buffer, header.raw_value.byteOffset, header.raw_value.byteLength).toString('utf8')
      : header.value ?? '';
    const prior = out.get(name);
    out.set(name, prior === undefined ? value : `${prior}${name === 'cookie' ? '; ' : ', '}${value}`);
  }
  return out;
}

/** One set_headers entry: raw_value bytes, overwriting whatever Envoy holds under that name. */
export function setHeader(key: string, value: string): HeaderValueOption {
  return { header: { key, raw_value: Buffer.from(value, 'utf8') }, append_action: OVERWRITE_IF_EXISTS_OR_ADD };
}

/** Reads a header mutation back into [name, value] pairs (tests, logs). */
export function mutationPairs(mutation: HeaderMutation | undefined): Array<[string, string]> {
  return (mutation?.set_headers ?? []).map((option) => [
    option.header.key ?? '',
    option.header.raw_value && option.header.raw_value.length > 0 ? Buffer.from(option.header.raw_value).toString('utf8') : option.header.value ?? '',
  ]);
}

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/** A plain JSON object as a google.protobuf.Struct. */
export function toStruct(object: Record<string, Json>): Struct {
  const fields: Record<string, StructValue> = {};
  for (const [key, value] of Object.entries(object)) fields[key] = toValue(value);
  return { fields };
}

function toValue(value: Json): StructValue {
  if (value === null) return { null_value: 0 };
  if (typeof value === 'string') return { string_value: value };
  if (typeof value === 'number') return { number_value: value };
  if (typeof value === 'boolean') return { bool_value: value };
  if (Array.isArray(value)) return { list_value: { values: value.map(toValue) } };
  return { struct_value: toStruct(value) };
}

/** A decoded google.protobuf.Struct as plain JSON. */
export function fromStruct(struct: Struct | undefined): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const [key, value] of Object.entries(struct?.fields ?? {})) out[key] = fromValue(value);
  return out;
}

function fromValue(value: StructValue): Json {
  if (value.string_value !== undefined) return value.string_value;
  if (value.number_value !== undefined) return value.number_value;
  if (value.bool_value !== undefined) return value.bool_value;
  if (value.struct_value !== undefined) return fromStruct(value.struct_value);
  if (value.list_value !== undefined) return (value.list_value.values ?? []).map(fromValue);
  return null;
}

/**
 * Envoy's endpoint subset hint: undefined when the key is absent (all endpoints), else
 * the listed `ip:port` values (possibly none: no endpoint is acceptable).
 */
export function subsetHint(metadata: Metadata | undefined): string[] | undefined {
  const hint = metadata?.filter_metadata?.[SUBSET_HINT_NAMESPACE]?.fields?.[SUBSET_HINT_KEY];
  if (hint === undefined) return undefined;
  if (hint.list_value !== undefined) {
    return (hint.list_value.values ?? []).flatMap((value) => (value.string_value ? [value.string_value] : []));
  }
  // A single string is tolerated (comma-separated, as in the destination header).
  if (hint.string_value !== undefined) return hint.string_value.split(',').map((s) => s.trim()).filter(Boolean);
  return [];
}

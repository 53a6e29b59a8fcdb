/**
 * The wire form of the EPP's most frequent big message, written by hand: a ProcessingResponse that
 * only carries one streamed body chunk (`request_body` or `response_body` →
 * `response.body_mutation.streamed_response{body, end_of_stream}`), as messages.ts `bodyChunks`
 * builds it. Every other message goes through proto-loader's serializer unchanged.
 *
 * Why: proto-loader builds a protobufjs message tree and encodes it into a fresh Buffer, which
 * grpc-js then copies into its own framed Buffer and drops. For a 62000-byte chunk that is a
 * body-sized allocation per message for nothing. Here the encoding goes into one reused scratch
 * Buffer, and the view handed to grpc-js is copied by it before the next message is encoded
 * (grpc-js's `serializeMessage` copies synchronously; the ext_proc tests that send a body in many
 * chunks in one go would see mixed-up bytes if a version kept the view instead).
 *
 * Same bytes on the wire as protobufjs writes for that message (field order, a `false`
 * end_of_stream written as 0); the unit tests compare the two.
 */
import type { ProcessingResponse } from './proto.js';

/** ProcessingResponse field numbers of the two body phases. */
const PHASE_FIELD = { request_body: 3, response_body: 4 } as const;

/** Chunks above this size are encoded into their own Buffer instead of a scratch kept for good. */
const SCRATCH_LIMIT = 256 * 1024;

let scratch = Buffer.allocUnsafe(0);

function varintLength(value: number): number {
  let length = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    length++;
  }
  return length;
}

function writeVarint(out: Buffer, offset: number, value: number): number {
  while (value >= 0x80) {
    out[offset++] = (value & 0x7f) | 0x80;
    value = Math.floor(value / 128);
  }
  out[offset++] = value;
  return offset;
}

/** A length-delimited field's total size: tag, length, payload. */
const fieldSize = (payload: number): number => 1 + varintLength(payload) + payload;

/** The body chunk and its phase when `message` is exactly a streamed body chunk, else undefined. */
function bodyChunkOf(message: ProcessingResponse): { field: number; body: Uint8Array; endOfStream: boolean } | undefined {
  let phase: keyof typeof PHASE_FIELD | undefined;
  for (const key in message) {
    const value = (message as Record<string, unknown>)[key];
    if (value === undefined) continue;
    if ((key !== 'request_body' && key !== 'response_body') || phase !== undefined) return undefined;
    phase = key;
  }
  if (phase === undefined) return undefined;
  const bodyResponse = message[phase]!;
  const common = bodyResponse.response;
  if (!common || Object.keys(bodyResponse).length !== 1 || Object.keys(common).length !== 1) return undefined;
  const mutation = common.body_mutation;
  if (!mutation || Object.keys(mutation).length !== 1) return undefined;
  const streamed = mutation.streamed_response;
  if (!streamed || !(streamed.body instanceof Uint8Array) || typeof streamed.end_of_stream !== 'boolean' || Object.keys(streamed).length !== 2) return undefined;
  return { field: PHASE_FIELD[phase], body: streamed.body, endOfStream: streamed.end_of_stream };
}

/**
 * The protobuf bytes of a body-chunk message (valid until the next call), or undefined when
 * `message` is anything else.
 */
export function encodeBodyChunk(message: ProcessingResponse): Buffer | undefined {
  const chunk = bodyChunkOf(message);
  if (!chunk) return undefined;
  const streamedSize = fieldSize(chunk.body.length) + 2; // body, then end_of_stream (tag + 0/1)
  const mutationSize = fieldSize(streamedSize);
  const commonSize = fieldSize(mutationSize);
  const bodyResponseSize = fieldSize(commonSize);
  const total = fieldSize(bodyResponseSize);
  let out: Buffer;
  if (total > SCRATCH_LIMIT) {
    out = Buffer.allocUnsafe(total);
  } else {
    if (scratch.length < total) scratch = Buffer.allocUnsafe(Math.max(total, 64 * 1024));
    out = scratch;
  }
  let at = 0;
  out[at++] = (chunk.field << 3) | 2; // ProcessingResponse.request_body / response_body
  at = writeVarint(out, at, bodyResponseSize);
  out[at++] = (1 << 3) | 2; // BodyResponse.response
  at = writeVarint(out, at, commonSize);
  out[at++] = (3 << 3) | 2; // CommonResponse.body_mutation
  at = writeVarint(out, at, mutationSize);
  out[at++] = (3 << 3) | 2; // BodyMutation.streamed_response
  at = writeVarint(out, at, streamedSize);
  out[at++] = (1 << 3) | 2; // StreamedBodyResponse.body
  at = writeVarint(out, at, chunk.body.length);
  out.set(chunk.body, at);
  at += chunk.body.length;
  out[at++] = 2 << 3; // StreamedBodyResponse.end_of_stream (varint)
  out[at++] = chunk.endOfStream ? 1 : 0;
  return out.subarray(0, at);
}

/** `serialize` with body chunks encoded by hand (see above). */
export function withBodyChunkEncoding(serialize: (message: ProcessingResponse) => Buffer): (message: ProcessingResponse) => Buffer {
  return (message) => encodeBodyChunk(message) ?? serialize(message);
}

/** Reading request bodies into memory with a size limit (413 past it). */
import { OpenAIError } from '../openai/errors.js';

/** Default cap for an inference request body: 32 MiB holds very long multimodal chats. */
export const DEFAULT_BODY_LIMIT = 32 * 1024 * 1024;

export function tooLarge(limit: number): OpenAIError {
  return new OpenAIError(413, `request body is larger than the limit of ${limit} bytes`);
}

/**
 * Reads a whole body. A declared Content-Length past the limit fails before reading anything;
 * a chunked body fails as soon as it crosses the limit.
 */
export async function readBody(
  source: AsyncIterable<Uint8Array>,
  limit: number = DEFAULT_BODY_LIMIT,
  declaredLength?: string | number | null,
): Promise<Buffer> {
  if (declaredLength !== undefined && declaredLength !== null && Number(declaredLength) > limit) throw tooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of source) {
    size += chunk.byteLength;
    if (size > limit) throw tooLarge(limit);
    chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
}

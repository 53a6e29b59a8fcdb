/**
 * Prefix block hashing for the approximate prefix index (llm-d `hashPrompt`):
 * the request's input bytes are cut into blocks of `blockSizeTokens · 4` bytes (≈ 4 bytes per
 * token) and chained with XXH64 (seed 0):
 *   prev = xxh64(targetModel ‖ cacheSalt);  for each block b: h = xxh64(b ‖ u64le(prev)); prev = h.
 * The trailing partial block is hashed too. Input shorter than one block gives no hashes.
 *
 * xxhash-wasm compiles its WebAssembly asynchronously; this module awaits it once at load (top-level
 * await), so hashing itself is synchronous.
 */
import xxhash from 'xxhash-wasm';
import { goMessagesJson } from '../../../src/openai/input-bytes.js';
import type { InferenceBody } from '../../../src/openai/types.js';

const { h64Raw } = await xxhash();

/** llm-d's estimate of UTF-8 bytes per token, used to turn a block size in tokens into bytes. */
export const AVERAGE_CHARACTERS_PER_TOKEN = 4;

/** XXH64 with seed 0 of raw bytes. */
export function xxh64(bytes: Uint8Array): bigint {
  return h64Raw(bytes, 0n);
}

/**
 * The bytes whose prefix is matched:
 * - chat: `messages` as Go's encoding/json writes them (the same bytes the P/D decider measures);
 * - completions: the prompt string, or a string array joined with " " (llm-d `PlainText`);
 *   token-id prompts are hashed as 4 little-endian bytes per id — upstream hashes nothing for them
 *   (#860); 4 bytes per id also matches how `userInputBytes()` counts them;
 * - responses: the `input` string, or the JSON of an `input` array.
 */
export function prefixInput(parsed: InferenceBody): Uint8Array {
  switch (parsed.api) {
    case 'chat_completions':
      return Buffer.from(goMessagesJson(parsed.body.messages), 'utf8');
    case 'completions': {
      const prompt = parsed.body.prompt;
      if (typeof prompt === 'string') return Buffer.from(prompt, 'utf8');
      if (prompt.length === 0 || typeof prompt[0] === 'string') return Buffer.from((prompt as string[]).join(' '), 'utf8');
      const ids = (prompt as Array<number | number[]>).flat();
      const bytes = Buffer.alloc(ids.length * 4);
      ids.forEach((id, i) => bytes.writeUInt32LE(id >>> 0, i * 4));
      return bytes;
    }
    case 'responses': {
      const input = parsed.body.input;
      return Buffer.from(typeof input === 'string' ? input : JSON.stringify(input), 'utf8');
    }
  }
}

/** `cache_salt` of the body, or "" (it separates tenants' caches, so it seeds the chain). */
export function cacheSaltOf(parsed: InferenceBody): string {
  const salt = (parsed.body as { cache_salt?: unknown }).cache_salt;
  return typeof salt === 'string' ? salt : '';
}

/**
 * Block hashes of `input`. `maxBlocks` caps how many blocks are hashed (Infinity = no cap; 0 hashes
 * nothing): longer input is cut to `maxBlocks` blocks first.
 */
export function hashPrefixBlocks(input: Uint8Array, seedText: string, blockSizeTokens: number, maxBlocks: number): bigint[] {
  const blockBytes = blockSizeTokens * AVERAGE_CHARACTERS_PER_TOKEN;
  if (!(blockBytes > 0) || input.length < blockBytes) return [];
  const limit = Math.min(input.length, maxBlocks * blockBytes);
  const hashes: bigint[] = [];
  const scratch = new Uint8Array(blockBytes + 8);
  const view = new DataView(scratch.buffer);
  let prev = xxh64(Buffer.from(seedText, 'utf8'));
  for (let start = 0; start < limit; start += blockBytes) {
    const end = Math.min(start + blockBytes, limit);
    const length = end - start;
    scratch.set(input.subarray(start, end), 0);
    view.setBigUint64(length, prev, true);
    prev = xxh64(scratch.subarray(0, length + 8));
    hashes.push(prev);
  }
  return hashes;
}

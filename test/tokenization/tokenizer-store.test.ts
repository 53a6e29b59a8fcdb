/**
 * Finding tokenizers on local disk (explicit map, HF cache layout, relative dirs, default) and the
 * store's LRU with single-flight loading — on copies of the tiny fixture model.
 */
import { cp, mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TokenizerMeta } from '../../src/tokenization/added-tokens.js';
import { InProcessEncoder, type Encoder } from '../../src/tokenization/encoder.js';
import { TokenizationError } from '../../src/tokenization/errors.js';
import { findModelDir, isSafeModelName } from '../../src/tokenization/model-files.js';
import { TokenizerStore } from '../../src/tokenization/tokenizer-store.js';
import { TINY_MODEL_DIR } from '../fixtures/tiny-model/build.js';

let root: string;

async function tinyCopy(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  await cp(TINY_MODEL_DIR, dir, { recursive: true, filter: (path) => !path.endsWith('.ts') });
  return dir;
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'pd-router-tokenizers-'));
  await tinyCopy(join(root, 'cache', 'models--org--hub-model', 'snapshots', 'abc'));
  await tinyCopy(join(root, 'cache', 'models--org--hub-model', 'snapshots', 'old'));
  await mkdir(join(root, 'cache', 'models--org--hub-model', 'refs'), { recursive: true });
  await writeFile(join(root, 'cache', 'models--org--hub-model', 'refs', 'main'), 'abc\n');
  const older = join(root, 'hf-home', 'hub', 'models--org--noref', 'snapshots', 'older');
  const newer = join(root, 'hf-home', 'hub', 'models--org--noref', 'snapshots', 'newer');
  await tinyCopy(older);
  await tinyCopy(newer);
  await utimes(join(older, 'tokenizer.json'), new Date(1000), new Date(1000));
  await tinyCopy(join(root, 'plain', 'org', 'plain-model'));
});

afterAll(() => rm(root, { recursive: true, force: true }));

describe('findModelDir', () => {
  it('resolves explicit dirs, the HF cache layout (refs/main, else newest snapshot), relative dirs, then the default', async () => {
    const searchDirs = [join(root, 'cache'), join(root, 'hf-home'), join(root, 'plain')];
    expect(await findModelDir('x', { modelDirs: { x: '/somewhere' }, searchDirs })).toBe('/somewhere');
    // An explicit HF cache model directory means its snapshot.
    expect(await findModelDir('x', { modelDirs: { x: join(root, 'cache', 'models--org--hub-model') } })).toBe(join(root, 'cache', 'models--org--hub-model', 'snapshots', 'abc'));
    expect(await findModelDir('x', { modelDirs: { x: join(root, 'plain', 'org', 'plain-model') } })).toBe(join(root, 'plain', 'org', 'plain-model'));
    expect(await findModelDir('org/hub-model', { searchDirs })).toBe(join(root, 'cache', 'models--org--hub-model', 'snapshots', 'abc'));
    expect(await findModelDir('org/noref', { searchDirs })).toBe(join(root, 'hf-home', 'hub', 'models--org--noref', 'snapshots', 'newer'));
    expect(await findModelDir('org/plain-model', { searchDirs })).toBe(join(root, 'plain', 'org', 'plain-model'));
    expect(await findModelDir('org/absent', { searchDirs })).toBeUndefined();
    expect(await findModelDir('org/absent', { searchDirs, defaultDir: '/default' })).toBe('/default');
  });

  it('never turns a hostile model name into a path', async () => {
    for (const name of ['../plain/org/plain-model', '/etc', 'a/../../b', 'a\\b', '', 'a//b']) expect(isSafeModelName(name)).toBe(false);
    expect(await findModelDir('../plain/org/plain-model', { searchDirs: [join(root, 'cache')] })).toBeUndefined();
    expect(isSafeModelName('Qwen/Qwen3-0.6B')).toBe(true);
  });
});

/** Counts loads and unloads; encodes in process. */
class CountingEncoder implements Encoder {
  readonly loads: string[] = [];
  readonly unloads: string[] = [];
  private readonly inner = new InProcessEncoder();
  load(path: string): Promise<TokenizerMeta> {
    this.loads.push(path);
    return this.inner.load(path);
  }
  encode(path: string, texts: readonly string[], addSpecialTokens: boolean): Promise<Uint32Array[]> {
    return this.inner.encode(path, texts, addSpecialTokens);
  }
  unload(path: string): void {
    this.unloads.push(path);
    this.inner.unload(path);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

describe('TokenizerStore', () => {
  it('loads a model once for concurrent first requests', async () => {
    const encoder = new CountingEncoder();
    const store = new TokenizerStore({ searchDirs: [join(root, 'plain')], encoder });
    const all = await Promise.all(Array.from({ length: 5 }, () => store.get('org/plain-model')));
    expect(new Set(all).size).toBe(1);
    expect(encoder.loads).toHaveLength(1);
    expect(all[0]!.config.specialTokens.bos_token).toBe('<s>');
    await store.close();
    await encoder.close();
  });

  it('keeps the most recently used models and unloads the evicted one', async () => {
    const encoder = new CountingEncoder();
    const modelDirs = {
      a: await tinyCopy(join(root, 'lru', 'a')),
      b: await tinyCopy(join(root, 'lru', 'b')),
      c: await tinyCopy(join(root, 'lru', 'c')),
    };
    const store = new TokenizerStore({ modelDirs, capacity: 2, encoder });
    await store.get('a');
    await store.get('b');
    await store.get('a'); // a is now the most recent
    await store.get('c'); // evicts b
    expect(store.loadedModels()).toEqual(['a', 'c']);
    expect(encoder.unloads).toEqual([join(modelDirs.b, 'tokenizer.json')]);
    await store.get('b');
    expect(encoder.loads).toHaveLength(4);
    await encoder.close();
  });

  it('reports unknown models as model_not_found and remembers them briefly', async () => {
    const store = new TokenizerStore({ searchDirs: [join(root, 'late')], encoder: new InProcessEncoder() });
    await expect(store.get('org/late')).rejects.toMatchObject({ code: 'model_not_found' });
    await tinyCopy(join(root, 'late', 'org', 'late'));
    await expect(store.get('org/late')).rejects.toBeInstanceOf(TokenizationError);
    const fresh = new TokenizerStore({ searchDirs: [join(root, 'late')], encoder: new InProcessEncoder(), missingTtlMs: 0 });
    await expect(fresh.get('org/late')).resolves.toMatchObject({ model: 'org/late' });
  });

  it('reports a broken tokenizer as tokenizer_load', async () => {
    const dir = join(root, 'broken');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'tokenizer.json'), '{"not": "a tokenizer"}');
    const store = new TokenizerStore({ modelDirs: { broken: dir }, encoder: new InProcessEncoder() });
    await expect(store.get('broken')).rejects.toMatchObject({ code: 'tokenizer_load' });
  });
});

/**
 * Review (issue #12): requests naming models that have no local tokenizer — model names are
 * client input, so a stream of made-up names must not grow the process's memory. The tokenizer
 * store remembers missing models for a few seconds (bounded in number), and the "not tokenized"
 * warning is given once per (model, reason) for a bounded set of recent ones.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { InProcessEncoder } from '../../../src/tokenization/encoder.js';
import { MAX_MISSING_MODELS, TokenizerStore } from '../../../src/tokenization/tokenizer-store.js';
import { MAX_WARNED, NotTokenized } from '../../../scheduler/kvcache/precise/not-tokenized.js';
import { precisePrefixMetrics } from '../../../scheduler/kvcache/precise/metrics.js';
import { TokenizationError } from '../../../src/tokenization/errors.js';
import { Registry } from 'prom-client';
import { captureLogger } from '../../scheduler/helpers.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'pd-router-unknown-models-'));
});
afterAll(() => rm(root, { recursive: true, force: true }));

const stores: TokenizerStore[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()));
});

const sizeOf = (object: object, field: string): number => ((object as Record<string, { size: number }>)[field]!).size;

describe('made-up model names', () => {
  it('the tokenizer store remembers a bounded number of missing models', async () => {
    const store = new TokenizerStore({ searchDirs: [root], encoder: new InProcessEncoder() });
    stores.push(store);
    const names = MAX_MISSING_MODELS + 500;
    for (let i = 0; i < names; i++) await expect(store.get(`made-up/model-${i}`)).rejects.toMatchObject({ code: 'model_not_found' });
    expect(sizeOf(store, 'missing')).toBeLessThanOrEqual(MAX_MISSING_MODELS);
    // The most recent one is still remembered (no file-system probe), and still refused.
    await expect(store.get(`made-up/model-${names - 1}`)).rejects.toMatchObject({ code: 'model_not_found' });
  });

  it('"not tokenized" warns once per (model, reason) over a bounded set of recent ones', () => {
    const { logger, records } = captureLogger();
    const failures = new NotTokenized(logger, 'precise', precisePrefixMetrics(new Registry()));
    const names = MAX_WARNED + 500;
    for (let i = 0; i < names; i++) failures.outcome(`made-up-${i}`, new TokenizationError('model_not_found', 'no tokenizer'));
    expect(sizeOf(failures, 'warned')).toBeLessThanOrEqual(MAX_WARNED);
    const warnings = records.filter((record) => record.level === 40).length;
    failures.outcome(`made-up-${names - 1}`, new TokenizationError('model_not_found', 'no tokenizer'));
    expect(records.filter((record) => record.level === 40).length).toBe(warnings);
  });
});

/**
 * The tokenizer worker pool: cgroup-aware core count, and back-pressure — with one worker and a
 * queue of one, a second concurrent encode is refused at once (TokenizationError `overloaded`),
 * and accepted again once the first is done; a worker that stops answering is given up after the
 * call timeout (its calls fail, the slot is freed) and replaced.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { availableCores, coresFromCpuMax } from '../../src/tokenization/cores.js';
import { TokenizationError } from '../../src/tokenization/errors.js';
import { WorkerPoolEncoder } from '../../src/tokenization/worker-pool.js';
import { TINY_MODEL_DIR } from '../fixtures/tiny-model/build.js';

describe('availableCores', () => {
  it('reads a cgroup v2 cpu.max quota, rounding up; "max" means no quota', () => {
    expect(coresFromCpuMax('200000 100000\n')).toBe(2);
    expect(coresFromCpuMax('150000 100000')).toBe(2);
    expect(coresFromCpuMax('50000 100000')).toBe(1);
    expect(coresFromCpuMax('max 100000')).toBeUndefined();
    expect(coresFromCpuMax('garbage')).toBeUndefined();
  });

  it('is the smaller of the affinity and the quota', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cpu-max-'));
    writeFileSync(join(dir, 'one'), '100000 100000\n');
    writeFileSync(join(dir, 'huge'), '100000000 100000\n');
    expect(availableCores(join(dir, 'one'))).toBe(1);
    expect(availableCores(join(dir, 'huge'))).toBe(availableParallelism());
    expect(availableCores(join(dir, 'absent'))).toBe(availableParallelism());
  });
});

describe('WorkerPoolEncoder', () => {
  const pools: WorkerPoolEncoder[] = [];
  afterEach(async () => {
    await Promise.all(pools.splice(0).map((pool) => pool.close()));
  });

  it('refuses an encode beyond maxQueue at once, and accepts again when there is room', async () => {
    const pool = new WorkerPoolEncoder({ workers: 1, maxQueue: 1 });
    pools.push(pool);
    const path = join(TINY_MODEL_DIR, 'tokenizer.json');
    await pool.load(path);
    const first = pool.encode(path, ['hello world'], false);
    expect(pool.pending).toBe(1);
    const second = pool.encode(path, ['how are you'], false);
    await expect(second).rejects.toBeInstanceOf(TokenizationError);
    await expect(second).rejects.toMatchObject({ code: 'overloaded' });
    const [ids] = await first;
    expect(ids!.length).toBeGreaterThan(0);
    expect(pool.pending).toBe(0);
    const [again] = await pool.encode(path, ['hello world'], false);
    expect([...again!]).toEqual([...ids!]);
  });

  it('spreads concurrent encodes over its workers; every answer is right', async () => {
    const pool = new WorkerPoolEncoder({ workers: 2, maxQueue: 8 });
    pools.push(pool);
    const path = join(TINY_MODEL_DIR, 'tokenizer.json');
    const texts = ['hello world', 'how are you', 'hello', 'you are'];
    const expected = await Promise.all(texts.map((text) => pool.encode(path, [text], false)));
    const again = await Promise.all(texts.map((text) => pool.encode(path, [text], false)));
    expect(again.map(([ids]) => [...ids!])).toEqual(expected.map(([ids]) => [...ids!]));
    expect(pool.size).toBe(2);
  });

  it('a call the worker never answers fails after the call timeout, frees its slot, and the next call gets a new worker', async () => {
    const pool = new WorkerPoolEncoder({ workers: 1, maxQueue: 1, callTimeoutMs: 300 });
    pools.push(pool);
    const path = join(TINY_MODEL_DIR, 'tokenizer.json');
    // Boot the worker and load through the untimed `load` op, so only the stuck call races the
    // 300 ms budget (a worker booting on a loaded machine can take longer than that).
    await pool.load(path);
    const [expected] = await pool.encode(path, ['hello world'], false);
    // A "tokenizer" on a stuck mount: reading it never ends, so the worker never answers.
    const stuck = join(mkdtempSync(join(tmpdir(), 'stuck-')), 'tokenizer.json');
    execFileSync('mkfifo', [stuck]);
    try {
      const hung = pool.encode(stuck, ['hello'], false);
      const guard = new Promise((resolve) => setTimeout(resolve, 3000, 'still pending'));
      await expect(Promise.race([hung, guard])).rejects.toThrow(/did not answer/);
      expect(pool.pending).toBe(0);
    } finally {
      // Release the thread blocked opening the FIFO (no reader left: ENXIO, nothing to release).
      try {
        closeSync(openSync(stuck, constants.O_WRONLY | constants.O_NONBLOCK));
      } catch {
        // no reader
      }
    }
    await pool.load(path); // the replacement worker
    const [again] = await pool.encode(path, ['hello world'], false);
    expect([...again!]).toEqual([...expected!]);
  });

  it('a worker that dies mid-call fails its calls at once, and the next call gets a new worker', async () => {
    const pool = new WorkerPoolEncoder({ workers: 1, maxQueue: 2 });
    pools.push(pool);
    const path = join(TINY_MODEL_DIR, 'tokenizer.json');
    const [expected] = await pool.encode(path, ['hello world'], false);
    const inner = (pool as unknown as { workers: Array<{ worker: { terminate(): Promise<number> } | undefined }> }).workers[0]!;
    const call = pool.encode(path, ['how are you '.repeat(2000)], false);
    await inner.worker!.terminate();
    await expect(call).rejects.toThrow(/exited/);
    expect(pool.pending).toBe(0);
    const [again] = await pool.encode(path, ['hello world'], false);
    expect([...again!]).toEqual([...expected!]);
  });
});

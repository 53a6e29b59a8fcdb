import { describe, expect, it } from 'vitest';
import { Dispatcher, QUEUE_FULL_MESSAGE, type DispatchJob } from '../../src/sim/dispatcher.js';
import { LoraManager } from '../../src/sim/lora.js';

/** A job that runs until `finish()` is called. */
function job(lora: string | null = null, log: string[] = [], name = '') {
  let finish!: () => void;
  let queuedMs: number | undefined;
  let started = false;
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const spec: DispatchJob = {
    lora,
    run: async (queued) => {
      started = true;
      queuedMs = queued;
      log.push(name);
      await done;
    },
  };
  return { spec, finish: async () => { finish(); await new Promise((r) => setImmediate(r)); }, get started() { return started; }, get queuedMs() { return queuedMs; } };
}

describe('Dispatcher', () => {
  it('runs up to max-num-seqs, queues FIFO, keeps honest counts, and 429s a full queue', async () => {
    const counts: Array<[number, number]> = [];
    let clock = 1_000;
    const dispatcher = new Dispatcher({ maxNumSeqs: 1, maxWaitingQueueLength: 1, onChange: (r, w) => counts.push([r, w]), now: () => clock });
    const a = job();
    const b = job();
    expect(dispatcher.submit(a.spec)).toBe('running');
    clock = 1_100;
    expect(dispatcher.submit(b.spec)).toBe('queued');
    expect([dispatcher.running, dispatcher.waiting]).toEqual([1, 1]);
    expect(() => dispatcher.submit(job().spec)).toThrow(QUEUE_FULL_MESSAGE);
    try {
      dispatcher.submit(job().spec);
    } catch (err) {
      expect(err).toMatchObject({ status: 429, type: 'RateLimitError' });
    }
    clock = 1_350;
    expect(b.started).toBe(false);
    await a.finish();
    expect(b.started).toBe(true);
    // b waited from its submission (t=1100) until a's worker freed up (t=1350).
    expect(b.queuedMs).toBe(250);
    expect(a.queuedMs).toBeUndefined();
    expect([dispatcher.running, dispatcher.waiting]).toEqual([1, 0]);
    await b.finish();
    expect([dispatcher.running, dispatcher.waiting]).toEqual([0, 0]);
    expect(counts.at(-1)).toEqual([0, 0]);
    await dispatcher.whenIdle();
  });

  it('max-num-seqs=1 with 3 requests: running 1, waiting 2; they run in arrival order', async () => {
    const log: string[] = [];
    const dispatcher = new Dispatcher({ maxNumSeqs: 1, maxWaitingQueueLength: 10 });
    const jobs = ['a', 'b', 'c'].map((name) => job(null, log, name));
    for (const j of jobs) dispatcher.submit(j.spec);
    expect([dispatcher.running, dispatcher.waiting]).toEqual([1, 2]);
    for (const j of jobs) await j.finish();
    expect(log).toEqual(['a', 'b', 'c']);
  });

  it('a queue length of 0 refuses whenever all workers are busy', () => {
    const dispatcher = new Dispatcher({ maxNumSeqs: 1, maxWaitingQueueLength: 0 });
    dispatcher.submit(job().spec);
    expect(() => dispatcher.submit(job().spec)).toThrow(QUEUE_FULL_MESSAGE);
  });

  it('a failing job frees its worker', async () => {
    const dispatcher = new Dispatcher({ maxNumSeqs: 1, maxWaitingQueueLength: 5 });
    dispatcher.submit({ lora: null, run: () => Promise.reject(new Error('boom')) });
    dispatcher.submit({ lora: null, run: () => { throw new Error('sync boom'); } });
    await dispatcher.whenIdle();
    expect(dispatcher.running).toBe(0);
  });

  it('LoRA slots: a request waits for a slot even with a free worker; freed workers prefer loaded LoRAs', async () => {
    const log: string[] = [];
    const usage: Array<[string[], string[]]> = [];
    const loras = new LoraManager(1, [{ name: 'x' }, { name: 'y' }], { usageChanged: (r, w) => usage.push([r, w]) });
    const dispatcher = new Dispatcher({
      maxNumSeqs: 3,
      maxWaitingQueueLength: 10,
      lora: loras,
      onQueueChange: (j, queued) => j.lora && loras.markWaiting(j.lora, queued),
    });
    const x1 = job('x', log, 'x1');
    const y1 = job('y', log, 'y1');
    const x2 = job('x', log, 'x2');
    dispatcher.submit(x1.spec);
    expect(loras.idOf('x')).toBe(1);
    expect(dispatcher.submit(y1.spec)).toBe('queued');
    expect(dispatcher.submit(x2.spec)).toBe('running');
    expect([dispatcher.running, dispatcher.waiting]).toEqual([2, 1]);
    expect(usage.at(-1)).toEqual([[], ['y']]);
    await x1.finish();
    expect(y1.started).toBe(false);
    await x2.finish();
    expect(y1.started).toBe(true);
    expect(loras.idOf('y')).toBe(1);
    expect(loras.idOf('x')).toBe(0);
    await y1.finish();
    expect(log).toEqual(['x1', 'x2', 'y1']);
  });
});

import { describe, expect, it } from 'vitest';
import { InFlightCounter } from '../../../../scheduler/plugins/scorers/inflight-counter.js';

describe('InFlightCounter', () => {
  it('counts per endpoint and releases once', () => {
    const counter = new InFlightCounter();
    const r1 = {};
    const r2 = {};
    counter.add(r1, ['a', 'b']);
    counter.add(r2, ['a', 'a']);
    expect([counter.get('a'), counter.get('b'), counter.requests]).toEqual([3, 1, 2]);
    expect(counter.release(r1)).toBe(true);
    expect(counter.release(r1)).toBe(false);
    expect([counter.get('a'), counter.get('b')]).toEqual([2, 0]);
  });

  it('re-adding a request replaces its previous targets; no targets tracks nothing', () => {
    const counter = new InFlightCounter();
    const r = {};
    counter.add(r, ['a']);
    counter.add(r, ['b']);
    expect([counter.get('a'), counter.get('b')]).toEqual([0, 1]);
    counter.add(r, []);
    expect([counter.get('b'), counter.requests]).toEqual([0, 0]);
  });

  it('expires requests older than maxAgeMs', () => {
    let now = 1000;
    const counter = new InFlightCounter({ now: () => now, maxAgeMs: 100 });
    counter.add({}, ['a']);
    now = 1050;
    counter.add({}, ['a']);
    now = 1100;
    expect(counter.expire()).toBe(1);
    expect(counter.get('a')).toBe(1);
  });

  it('retainEndpoints drops departed endpoints and their pending releases', () => {
    const counter = new InFlightCounter();
    const r = {};
    counter.add(r, ['gone', 'kept']);
    counter.retainEndpoints(new Set(['kept']));
    expect(counter.get('gone')).toBe(0);
    // The pod comes back under the same name: the old request's completion must not go negative.
    counter.add({}, ['gone']);
    counter.release(r);
    expect([counter.get('gone'), counter.get('kept')]).toEqual([1, 0]);
  });
});

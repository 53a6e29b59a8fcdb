/**
 * The step engine's clock: real time (performance.now + setTimeout) when serving, virtual time in
 * tests and benchmarks, where `VirtualClock.run()` fires timers in time order without waiting —
 * so model tests are deterministic and a simulated minute takes milliseconds.
 */
import { performance } from 'node:perf_hooks';

export interface Timer {
  cancel(): void;
}

export interface EngineClock {
  /** Milliseconds on this clock. */
  now(): number;
  /** Calls `fn` after `ms` (≥ 0) on this clock. */
  setTimer(ms: number, fn: () => void): Timer;
}

export const REAL_CLOCK: EngineClock = {
  now: () => performance.now(),
  setTimer(ms, fn) {
    const handle = setTimeout(fn, Math.max(0, ms));
    return { cancel: () => clearTimeout(handle) };
  },
};

interface Pending {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

export class VirtualClock implements EngineClock {
  private time: number;
  private seq = 0;
  private pending: Pending[] = [];

  constructor(start = 0) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  setTimer(ms: number, fn: () => void): Timer {
    const entry: Pending = { at: this.time + Math.max(0, ms), seq: this.seq++, fn, cancelled: false };
    this.pending.push(entry);
    return { cancel: () => { entry.cancelled = true; } };
  }

  /** Timers not yet fired. */
  get size(): number {
    return this.pending.filter((entry) => !entry.cancelled).length;
  }

  /** Fires the earliest timer (advancing the time to it); false when none is left. */
  step(): boolean {
    this.pending = this.pending.filter((entry) => !entry.cancelled);
    if (this.pending.length === 0) return false;
    let best = 0;
    for (let i = 1; i < this.pending.length; i++) {
      const entry = this.pending[i]!;
      const current = this.pending[best]!;
      if (entry.at < current.at || (entry.at === current.at && entry.seq < current.seq)) best = i;
    }
    const [entry] = this.pending.splice(best, 1);
    this.time = entry!.at;
    entry!.fn();
    return true;
  }

  /** Fires timers until none is left, or the next one is later than `until` (then time = until). */
  run(until = Number.POSITIVE_INFINITY, maxTimers = 10_000_000): void {
    for (let fired = 0; fired < maxTimers; fired++) {
      const next = this.pending.filter((entry) => !entry.cancelled).reduce((min, entry) => Math.min(min, entry.at), Number.POSITIVE_INFINITY);
      if (next > until) {
        if (Number.isFinite(until)) this.time = Math.max(this.time, until);
        return;
      }
      if (!this.step()) return;
    }
    throw new Error('VirtualClock.run: too many timers (a loop that never goes idle?)');
  }

  /** Moves the time forward by `ms`, firing what falls due. */
  advance(ms: number): void {
    this.run(this.time + ms);
  }
}

/**
 * vLLM's API server in front of the step engine (docs/simulator.md "Front end"): one process, one
 * asyncio loop, so its work is a single FIFO queue on the engine clock. Per request it parses the
 * HTTP body, renders the chat template and hands the request to the engine core
 * (`--frontend-overhead` of loop time) after tokenizing the prompt on a tokenizer thread, off the
 * loop (`--frontend-prompt-token-overhead` × prompt tokens; one thread, so tokenizations queue among
 * themselves, not with streaming); per engine step it detokenizes and streams every token the step
 * produced (`--frontend-token-overhead` each, loop time) before the clients see them. Under load the
 * work queues: a request waits for the loop and the tokenizer as well as for the GPU.
 *
 * With zero costs and nothing queued, work runs synchronously (the engine alone).
 */
import type { EngineClock, Timer } from './clock.js';

/** Its costs, ms (flags `--frontend-overhead` …; defaults and sources: docs/simulator.md "Front end"). */
export interface FrontendSettings {
  /** Per request: HTTP, validation, chat template, engine-core IPC both ways, stream set-up and end. */
  frontendOverhead: number;
  /** Tokenization, per prompt token. */
  frontendPromptTokenOverhead: number;
  /** Detokenization and SSE encoding, per streamed token. */
  frontendTokenOverhead: number;
}

export const DEFAULT_FRONTEND_SETTINGS: FrontendSettings = { frontendOverhead: 1, frontendPromptTokenOverhead: 0.001, frontendTokenOverhead: 0.0077 };
export const NO_FRONTEND: FrontendSettings = { frontendOverhead: 0, frontendPromptTokenOverhead: 0, frontendTokenOverhead: 0 };

/** The first invalid setting's message, if any. */
export function frontendSettingsError(settings: FrontendSettings): string | undefined {
  const flags = [['frontend-overhead', settings.frontendOverhead], ['frontend-prompt-token-overhead', settings.frontendPromptTokenOverhead],
    ['frontend-token-overhead', settings.frontendTokenOverhead]] as const;
  const negative = flags.find(([, value]) => !(Number.isFinite(value) && value >= 0));
  return negative && `${negative[0]} cannot be negative`;
}

interface Work {
  start: number;
  end: number;
  fn: (startedAt: number) => void;
}

/** vLLM's API server: its event loop and its tokenizer thread, each a FIFO of timed work. */
export class Frontend {
  private readonly loop: WorkQueue;
  private readonly tokenizer: WorkQueue;

  constructor(clock: EngineClock, private readonly costs: FrontendSettings) {
    this.loop = new WorkQueue(clock);
    this.tokenizer = new WorkQueue(clock);
  }

  /** Work queued or in progress. */
  get pending(): number {
    return this.loop.pending + this.tokenizer.pending;
  }

  /** Input processing of a request; `fn(startedAt)` runs when the engine core gets it. */
  admit(promptTokens: number, fn: (startedAt: number) => void): void {
    this.tokenizer.run(this.costs.frontendPromptTokenOverhead * promptTokens,
      (startedAt) => this.loop.run(this.costs.frontendOverhead, () => fn(startedAt)));
  }

  /** Output processing of one step's `tokens` tokens; `fn` runs when the clients get them. */
  deliver(tokens: number, fn: () => void): void {
    this.loop.run(this.costs.frontendTokenOverhead * tokens, () => fn());
  }

  /** Finishes the queued work now, in order (shutdown: nothing is left waiting). */
  flush(): void {
    this.tokenizer.flush();
    this.loop.flush();
  }
}

/** Timed work done one item at a time, in order, on the engine clock; one timer, for the head. */
class WorkQueue {
  /** Queued work in order; the head is in progress. */
  private readonly queue: Work[] = [];
  private timer: Timer | undefined;
  /** Running finished work: its callbacks may queue more, armed after. */
  private firing = false;

  constructor(private readonly clock: EngineClock) {}

  get pending(): number {
    return this.queue.length;
  }

  flush(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.firing = true;
    try {
      for (let work = this.queue.shift(); work !== undefined; work = this.queue.shift()) work.fn(work.start);
    } finally {
      this.firing = false;
    }
  }

  run(costMs: number, fn: (startedAt: number) => void): void {
    const now = this.clock.now();
    const last = this.queue.at(-1);
    if (costMs === 0 && last === undefined) {
      fn(now);
      return;
    }
    const start = Math.max(now, last?.end ?? now);
    this.queue.push({ start, end: start + costMs, fn });
    if (this.timer === undefined && !this.firing) this.arm();
  }

  private arm(): void {
    const head = this.queue[0];
    if (head === undefined) return;
    this.timer = this.clock.setTimer(head.end - this.clock.now(), () => {
      this.timer = undefined;
      const now = this.clock.now();
      this.firing = true;
      try {
        // The head's own timer fired: it is done, and so is whatever ended by now.
        do {
          const work = this.queue.shift()!;
          work.fn(work.start);
        } while (this.queue.length > 0 && this.queue[0]!.end <= now);
      } finally {
        this.firing = false;
      }
      this.arm();
    });
  }
}

/**
 * The P/D benchmark's workloads and open-loop client (bench/pd.ts): Poisson arrivals, streaming
 * chat completions through the gateway, TTFT and TPOT measured at the client.
 *
 * Prompts are words of the simulated tokenizer (one word + space = one token). Outputs are exact
 * (`ignore_eos` + `max_tokens`).
 */
import { prng, words } from './routing-workload.js';

export type WorkloadName = 'long-in' | 'long-out' | 'multi-turn';

export interface Message {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface Job {
  messages: Message[];
  maxTokens: number;
  /** Called with the answer (multi-turn appends it to the conversation). */
  done?(answer: string): void;
}

export const WORKLOADS: Record<WorkloadName, string> = {
  'long-in': '4–8k tokens in (uniform), 64 out',
  'long-out': '256 in, 256 out',
  'multi-turn': '40 conversations sharing 4 system prompts of 1k tokens; each turn adds 200–1000 user tokens to the history, 128 out; a new conversation replaces a random one with p = 0.2',
};

/** A job generator for one workload and seed. */
export function jobSource(name: WorkloadName, seed: number): () => Job {
  const random = prng(seed);
  const between = (lo: number, hi: number): number => lo + Math.floor(random() * (hi - lo + 1));
  switch (name) {
    case 'long-in':
      return () => ({ messages: [{ role: 'user', content: words(random, between(4000, 8000)) }], maxTokens: 64 });
    case 'long-out':
      return () => ({ messages: [{ role: 'user', content: words(random, 256) }], maxTokens: 256 });
    case 'multi-turn': {
      const systems = Array.from({ length: 4 }, () => words(random, 1000));
      const fresh = (): Message[] => [{ role: 'system', content: systems[between(0, systems.length - 1)]! }];
      const conversations = Array.from({ length: 40 }, fresh);
      return () => {
        const index = between(0, conversations.length - 1);
        // A long conversation (past ~12k tokens) or p = 0.2: start over.
        if (random() < 0.2 || conversations[index]!.length > 24) conversations[index] = fresh();
        const history = conversations[index]!;
        const messages: Message[] = [...history, { role: 'user', content: words(random, between(200, 1000)) }];
        return {
          messages,
          maxTokens: 128,
          done: (answer) => {
            // Only the latest state of the slot grows (a slot restarted meanwhile is left alone).
            if (conversations[index] === history) conversations[index] = [...messages, { role: 'assistant', content: answer }];
          },
        };
      };
    }
  }
}

export interface Sample {
  ok: boolean;
  /** Wall-clock ms. */
  ttftMs: number;
  tpotMs: number;
}

/** One streaming request; TTFT = first content chunk, TPOT = (last − first) / (tokens − 1). */
export async function send(url: string, job: Job, timeoutMs: number): Promise<Sample> {
  const start = performance.now();
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'meta-llama/Llama-3.1-8B-Instruct', messages: job.messages, max_tokens: job.maxTokens, ignore_eos: true, stream: true, stream_options: { include_usage: true } }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!res.ok || !res.body) {
      await res.body?.cancel();
      return { ok: false, ttftMs: 0, tpotMs: 0 };
    }
    let first = 0;
    let last = 0;
    let tokens = 0;
    let answer = '';
    let buffer = '';
    const decoder = new TextDecoder();
    for await (const chunk of res.body) {
      buffer += decoder.decode(chunk as Uint8Array, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (!event.startsWith('data: ') || event === 'data: [DONE]') continue;
        const data = JSON.parse(event.slice(6)) as { choices?: Array<{ delta?: { content?: string } }>; usage?: { completion_tokens?: number } | null };
        const content = data.choices?.[0]?.delta?.content;
        if (content) {
          const now = performance.now();
          if (first === 0) first = now;
          last = now;
          answer += content;
        }
        if (data.usage?.completion_tokens) tokens = data.usage.completion_tokens;
      }
    }
    if (first === 0) return { ok: false, ttftMs: 0, tpotMs: 0 };
    job.done?.(answer);
    return { ok: true, ttftMs: first - start, tpotMs: tokens > 1 ? (last - first) / (tokens - 1) : 0 };
  } catch {
    return { ok: false, ttftMs: 0, tpotMs: 0 };
  }
}

/**
 * Open loop: Poisson arrivals at `ratePerSec` (wall clock) for `seconds`, then waits for every
 * request (each bounded by `timeoutMs`).
 */
export async function openLoop(url: string, next: () => Job, ratePerSec: number, seconds: number, seed: number, timeoutMs: number): Promise<Sample[]> {
  const random = prng(seed);
  const pending: Array<Promise<Sample>> = [];
  const start = performance.now();
  let at = 0;
  for (;;) {
    at += -Math.log(1 - random()) / ratePerSec * 1000;
    if (at > seconds * 1000) break;
    const wait = start + at - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    pending.push(send(url, next(), timeoutMs));
  }
  return Promise.all(pending);
}

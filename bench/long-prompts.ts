/**
 * The long-prompt workload of the precise-routing benchmarks (bench/epp-long.ts in process,
 * bench/epp-long-frontdoor.ts through the gateway and ext_proc): word-salad text that never
 * repeats across seeds, in two shapes —
 *
 *   chat  a multi-turn conversation (system prompt, 8 turns of history) and a new unique last
 *         user turn: everything but that turn is cached on a pod;
 *   doc   a unique document behind a ~2k-token system prompt that a pod holds.
 */
import type { ChatCompletionsBody, ChatMessage, InferenceBody } from '../src/openai/types.js';

export const MODEL = 'Qwen/Qwen3-0.6B';

const WORDS = (
  'the of and to in is that for it as with was on be by this are or from at an which have not but they his her she ' +
  'model request token cache prefix block router pod decode prefill latency memory server client batch queue score ' +
  'function return value error config file data system user assistant message time first last next new old more ' +
  'because however therefore example result change should would could will can may must also only just very much'
).split(' ');

export function textOf(seed: number, words: number): string {
  let state = seed >>> 0 || 1;
  const next = (n: number): number => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return (state >>> 8) % n;
  };
  const out: string[] = [];
  for (let i = 0; i < words; i++) {
    const roll = next(100);
    out.push(roll < 85 ? WORDS[next(WORDS.length)]! : roll < 95 ? `x${next(100000)}` : `fn_${next(999)}(a, b)`);
    if (next(14) === 0) out.push(next(3) === 0 ? '.\n\n' : '.');
  }
  return out.join(' ');
}

/** ≈ 2 Qwen3 tokens per word of this text (measured). */
const wordsFor = (tokens: number): number => Math.round(tokens / 2);

export type Shape = 'chat' | 'doc';

/** The cached part (same every iteration) and a unique last part. */
export function prompt(shape: Shape, tokens: number, iteration: number): { body: InferenceBody; cachedText: string } {
  let messages: ChatMessage[];
  if (shape === 'chat') {
    const turns = 8;
    const history = wordsFor(tokens * 0.97);
    messages = [{ role: 'system', content: textOf(1, 200) }];
    for (let t = 0; t < turns; t++) {
      messages.push({ role: 'user', content: textOf(10 + t, Math.round(history * 0.4 / turns)) });
      messages.push({ role: 'assistant', content: textOf(50 + t, Math.round(history * 0.6 / turns)) });
    }
    messages.push({ role: 'user', content: textOf(tokens * 1000 + iteration, wordsFor(tokens * 0.03)) });
  } else {
    messages = [
      { role: 'system', content: textOf(2, wordsFor(2000)) },
      { role: 'user', content: textOf(tokens * 1000 + 500 + iteration, wordsFor(tokens - 2000)) },
    ];
  }
  const body = { api: 'chat_completions', body: { model: MODEL, messages } as ChatCompletionsBody } as InferenceBody;
  return { body, cachedText: messages[messages.length - 1]!.content as string };
}


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
import { COMMON_WORDS, syntheticText } from './text.js';

export const MODEL = 'Qwen/Qwen3-0.6B';

export function textOf(seed: number, words: number): string {
  return syntheticText(seed, words, (next) => {
    const roll = next(100);
    return roll < 85 ? COMMON_WORDS[next(COMMON_WORDS.length)]! : roll < 95 ? `x${next(100000)}` : `fn_${next(999)}(a, b)`;
  });
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


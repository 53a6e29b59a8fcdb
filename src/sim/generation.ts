/**
 * What the simulator "generates". Random mode: `ignore_eos` → exactly the
 * limit; a limit → a 6-bucket length histogram whose last 15 % is exactly the limit; no limit →
 * Gaussian(40, 20) re-drawn into [1, max-model-len − prompt] (uniform when that bound is < 20).
 * Text = canned sentences, tokenized, concatenated and cut. Echo mode returns the prompt's tokens.
 * `finish_reason` is `length` exactly when the length equals the limit.
 */
import type { Random } from './random.js';
import { tokenizeText, type Tokenized } from './tokenizer.js';

export const CANNED_SENTENCES: readonly string[] = [
  'Testing@, #testing 1$ ,2%,3^, [4&*5], 6~, 7-_ + (8 : 9) / \\ < > . ',
  'Testing, testing 1,2,3. ',
  'I am fine, how are you today? ',
  'I am your AI assistant, how can I help you today? ',
  'Today is a nice sunny day. ',
  'The temperature here is twenty-five degrees centigrade. ',
  'Today it is partially cloudy and raining. ',
  'To be or not to be that is the question. ',
  'Alas, poor Yorick! I knew him, Horatio: A fellow of infinite jest ',
  'The rest is silence. ',
  'Give a man a fish and you feed him for a day; teach a man to fish and you feed him for a lifetime ',
];

const BUCKET_PROBABILITIES = [0.2, 0.3, 0.2, 0.05, 0.1, 0.15];
const CUMULATIVE = BUCKET_PROBABILITIES.reduce<number[]>((sums, p) => [...sums, (sums.at(-1) ?? 0) + p], []);
const FLEX_BUCKET = 3;
const FIXED_BUCKET_SIZE = 20;
const LENGTH_MEAN = 40;
const LENGTH_STD_DEV = 20;

export type GenerationFinish = 'stop' | 'length';

export interface Generated {
  tokens: Tokenized;
  finishReason: GenerationFinish;
}

const TOKENIZED_SENTENCES = CANNED_SENTENCES.map(tokenizeText);

/** [start, end] of bucket `index` for a limit of `maxTokens` (the last bucket is the limit itself). */
export function bucketBounds(maxTokens: number, index: number): [number, number] {
  const buckets = CUMULATIVE.length;
  const equalLimit = FIXED_BUCKET_SIZE * (buckets - 1) + 1;
  let start: number;
  let end: number;
  if (maxTokens <= equalLimit) {
    const size = (maxTokens - 1) / (buckets - 1);
    start = Math.trunc(size * index) + 1;
    end = Math.trunc(size * (index + 1));
  } else if (index < FLEX_BUCKET) {
    start = FIXED_BUCKET_SIZE * index + 1;
    end = FIXED_BUCKET_SIZE * (index + 1);
  } else {
    const flexSize = maxTokens - FIXED_BUCKET_SIZE * (buckets - 2);
    if (index === FLEX_BUCKET) {
      start = FIXED_BUCKET_SIZE * index + 1;
      end = FIXED_BUCKET_SIZE * index + flexSize;
    } else {
      start = FIXED_BUCKET_SIZE * (index - 1) + flexSize + 1;
      end = FIXED_BUCKET_SIZE * index + flexSize;
    }
  }
  if (end >= maxTokens) end = maxTokens - 1;
  return [start, end];
}

/** Response length for a request with a token limit. */
export function lengthByHistogram(random: Random, maxTokens: number): number {
  if (maxTokens <= 1) return maxTokens;
  if (maxTokens <= CUMULATIVE.length) return random.int(1, maxTokens);
  const r = random.float();
  if (r > CUMULATIVE[CUMULATIVE.length - 2]!) return maxTokens;
  let index = CUMULATIVE.length - 1;
  for (let i = 0; i < CUMULATIVE.length; i++) {
    if (r <= CUMULATIVE[i]!) {
      index = i;
      break;
    }
  }
  const [start, end] = bucketBounds(maxTokens, index);
  return random.int(start, end);
}

/** Response length without a limit: at most `maxLength` (context left after the prompt). */
export function unlimitedLength(random: Random, maxLength: number): number {
  if (maxLength < LENGTH_MEAN - LENGTH_STD_DEV) return random.int(1, maxLength);
  for (;;) {
    const value = random.gaussian(LENGTH_MEAN, LENGTH_STD_DEV);
    if (value >= 1 && value <= maxLength) return Math.round(value);
  }
}

/** `count` tokens cut from randomly chosen canned sentences. */
export function cannedTokens(random: Random, count: number): Tokenized {
  const result: Tokenized = { ids: [], strings: [] };
  while (result.ids.length < count) {
    const sentence = TOKENIZED_SENTENCES[random.int(0, TOKENIZED_SENTENCES.length - 1)]!;
    const take = Math.min(sentence.ids.length, count - result.ids.length);
    for (let i = 0; i < take; i++) {
      result.ids.push(sentence.ids[i]!);
      result.strings.push(sentence.strings[i]!);
    }
  }
  return result;
}

export interface GenerationRequest {
  maxTokens: number | null;
  ignoreEos: boolean;
  promptTokens: number;
}

export function generateRandom(random: Random, request: GenerationRequest, maxModelLen: number): Generated {
  const limited = request.maxTokens !== null;
  const limit = request.maxTokens ?? maxModelLen - request.promptTokens;
  let length: number;
  if (request.ignoreEos) length = limit;
  else if (limited) length = lengthByHistogram(random, limit);
  else length = unlimitedLength(random, limit);
  return { tokens: cannedTokens(random, length), finishReason: length === limit ? 'length' : 'stop' };
}

/**
 * Echo: the prompt's tokens, cut to the limit (real vLLM never exceeds max_tokens; the Go
 * simulator returns the whole prompt) — `length` when the limit is reached.
 */
export function generateEcho(echo: Tokenized, maxTokens: number | null): Generated {
  if (maxTokens === null || echo.ids.length < maxTokens) return { tokens: echo, finishReason: 'stop' };
  return {
    tokens: { ids: echo.ids.slice(0, maxTokens), strings: echo.strings.slice(0, maxTokens) },
    finishReason: 'length',
  };
}

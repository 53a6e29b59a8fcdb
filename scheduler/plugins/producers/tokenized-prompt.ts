/**
 * `TokenizedPrompt`: the request's prompt token ids, written once per request by `token-producer`
 * into the cycle state (request-level, not per endpoint) and read by `precise-prefix-cache-producer`.
 */
import type { SchedulingContext } from '../../framework/cycle-state.js';

export const TOKENIZED_PROMPT = 'TokenizedPrompt';

export interface TokenizedPrompt {
  readonly tokenIds: ArrayLike<number>;
  /** Who produced the ids: the model server's render endpoint or the in-process tokenizer. */
  readonly source: 'vllm-render' | 'in-process';
}

export const tokenizedPromptOf = (ctx: SchedulingContext): TokenizedPrompt | undefined =>
  ctx.state.get(TOKENIZED_PROMPT) as TokenizedPrompt | undefined;

/**
 * `--tokenizer <dir>`: tokenize prompts with a real model's tokenizer and chat template instead of
 * the simulated regex tokenizer, so `cached_tokens`, `/tokenize` and the KV
 * events' `token_ids` are the ids vLLM would use — and a precise prefix-cache router that
 * tokenizes the model the same way (src/tokenization) indexes the blocks the simulator caches.
 *
 * The directory holds `tokenizer.json` (+ `tokenizer_config.json` with the chat template), or is a
 * Hugging Face hub cache model directory (`models--org--name`, whose `refs/main` names the
 * snapshot). Every model name and LoRA served uses it. Rendering and encoding are the shared
 * PromptTokenizer's (worker thread), so this module is loaded only when the flag is set.
 *
 * Chat: rendered with the request's template fields and encoded without special tokens; text
 * prompts: encoded with special tokens (vLLM's defaults); id prompts are used as given. Generated
 * answer text is still split by the simulated tokenizer (the ids are never decoded).
 */
import { statSync } from 'node:fs';
import type { ChatCompletionsBody } from '../openai/types.js';
import { TokenizationError } from '../tokenization/errors.js';
import { resolveTokenizerDir as findTokenizerDir, TOKENIZER_FILE } from '../tokenization/model-files.js';
import { PromptTokenizer } from '../tokenization/prompt-tokens.js';
import { ConfigError } from '../config-error.js';
import { simError } from './failures.js';
import type { PromptInput } from './request.js';
import type { Tokenized } from './tokenizer.js';

/**
 * The directory holding tokenizer.json: `dir` itself, or the snapshot of a hub cache model
 * directory (resolved by src/tokenization/model-files.ts). Throws ConfigError.
 */
export function resolveTokenizerDir(dir: string): string {
  let isDirectory = false;
  try {
    isDirectory = statSync(dir).isDirectory();
  } catch {
    // missing
  }
  if (!isDirectory) throw new ConfigError(['tokenizer'], `directory "${dir}" does not exist`);
  const resolved = findTokenizerDir(dir);
  if (resolved === undefined) throw new ConfigError(['tokenizer'], `no ${TOKENIZER_FILE} in "${dir}" (nor in a Hugging Face cache snapshot under it)`);
  return resolved;
}

/** A real tokenizer for one simulator: prompts → ids, async (worker thread). */
export class RealTokenizer {
  private constructor(private readonly prompts: PromptTokenizer, private readonly model: string, readonly dir: string) {}

  /** Resolves the directory and loads the tokenizer now, so a bad one fails the start (ConfigError). */
  static async open(dir: string, model: string): Promise<RealTokenizer> {
    const resolved = resolveTokenizerDir(dir);
    const prompts = new PromptTokenizer({ defaultDir: resolved });
    try {
      await prompts.store.get(model);
    } catch (err) {
      await prompts.close();
      throw new ConfigError(['tokenizer'], err instanceof Error ? err.message : String(err));
    }
    return new RealTokenizer(prompts, model, resolved);
  }

  /** A request prompt's ids; tokenization problems (e.g. template errors) are 400s. */
  async tokenize(prompt: PromptInput): Promise<Tokenized> {
    try {
      switch (prompt.kind) {
        case 'ids': return { ids: prompt.ids, strings: [] };
        case 'text': return { ids: [...(await this.prompts.tokenizeText(this.model, prompt.text, true))], strings: [] };
        case 'chat': {
          const body = prompt.body ?? ({ model: this.model, messages: prompt.messages } as ChatCompletionsBody);
          const { tokens } = await this.prompts.tokenizeRequest(this.model, { api: 'chat_completions', body });
          return { ids: [...tokens], strings: [] };
        }
      }
    } catch (err) {
      if (err instanceof TokenizationError) throw simError(400, err.message);
      throw err;
    }
  }

  close(): Promise<void> {
    return this.prompts.close();
  }
}

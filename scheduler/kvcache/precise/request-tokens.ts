/**
 * A request → the token ids its model server will see, the first step of the precise read path.
 * The ids must equal the engine's, or no request key ever matches
 * an event's.
 *
 *  - `local` (default): the model's own tokenizer and chat template, in process (a pool of worker
 *    threads sized to the cores, with a bounded queue: src/tokenization/worker-pool.ts),
 *    from local directories only (src/tokenization/prompt-tokens.ts). This is what vLLM computes.
 *    With `modelName` (llm-d's `tokenizersPoolConfig.modelName`) that model's tokenizer serves
 *    every request, whatever model it names (e.g. LoRA adapters of one base model).
 *  - `simulated`: `pd-router sim`'s tokenizer (src/tokenization/simulated.ts: regex split, FNV-1a-32 ids, chat
 *    flattened as `### role: text`), so the EPP matches simulators that have no real tokenizer.
 *
 * Either rejects with a TokenizationError when the request cannot be tokenized; the scorer then
 * scores every endpoint 0.
 */
import type { CompletionsBody, InferenceBody } from '../../../src/openai/types.js';
import { tokenizeChat, tokenizeText } from '../../../src/tokenization/simulated.js';
import { TokenizationError } from '../../../src/tokenization/errors.js';
import { PromptTokenizer } from '../../../src/tokenization/prompt-tokens.js';
import { IdsStream, type TokenStream } from '../../../src/tokenization/token-stream.js';
import { WorkerPoolEncoder } from '../../../src/tokenization/worker-pool.js';
import type { TokenizerConfig, TokenizerPoolConfig } from './config.js';

export interface RequestTokenizer {
  readonly kind: TokenizerConfig['type'];
  tokenize(model: string, body: InferenceBody): Promise<ArrayLike<number>>;
  /** The same ids as a stream, for a caller that may stop early (src/tokenization/token-stream.ts). */
  stream(model: string, body: InferenceBody): Promise<TokenStream>;
  /** The models whose tokenizers `warm` loads: those the config names. */
  readonly configuredModels: readonly string[];
  /** Tokenizer worker threads (each loads every tokenizer it uses). */
  readonly workers: number;
  /**
   * Loads the configured models' tokenizers in every worker, so their first request is not the
   * slow one; rejects with the first failure (the others still load), naming the model and where
   * it was looked for.
   */
  warm(): Promise<void>;
  /** True when no tokenizer worker is idle (background work should not queue behind decisions). */
  busy(): boolean;
  close(): Promise<void>;
}

/** The first prompt of a completions body as the simulator sees it: text, or ids. */
function completionTokens(prompt: CompletionsBody['prompt']): number[] {
  if (typeof prompt === 'string') return tokenizeText(prompt).ids;
  const first: unknown = Array.isArray(prompt) && prompt.length > 0 && typeof prompt[0] !== 'number' ? prompt[0] : prompt;
  if (typeof first === 'string') return tokenizeText(first).ids;
  if (Array.isArray(first) && first.every((id) => Number.isInteger(id) && id >= 0)) return first as number[];
  throw new TokenizationError('unsupported', 'completion prompt is neither text nor token ids');
}

export class SimulatedRequestTokenizer implements RequestTokenizer {
  readonly kind = 'simulated' as const;
  readonly configuredModels: readonly string[] = [];
  readonly workers = 0;

  async tokenize(_model: string, body: InferenceBody): Promise<number[]> {
    switch (body.api) {
      case 'chat_completions':
        return tokenizeChat(body.body.messages).ids;
      case 'completions':
        return completionTokens(body.body.prompt);
      case 'responses':
        throw new TokenizationError('unsupported', 'the simulator does not serve the responses API');
    }
  }

  async stream(model: string, body: InferenceBody): Promise<TokenStream> {
    return new IdsStream(await this.tokenize(model, body));
  }

  async warm(): Promise<void> {}

  busy(): boolean {
    return false;
  }

  async close(): Promise<void> {}
}

export class LocalRequestTokenizer implements RequestTokenizer {
  readonly kind = 'local' as const;
  readonly prompts: PromptTokenizer;
  readonly configuredModels: readonly string[];
  private readonly modelName: string | undefined;
  private readonly pool: WorkerPoolEncoder;

  constructor(private readonly config: Extract<TokenizerConfig, { type: 'local' }>, pool: TokenizerPoolConfig = {}) {
    // Worker threads start on first use, so a configured-but-idle scorer costs nothing.
    this.pool = new WorkerPoolEncoder(pool);
    this.prompts = new PromptTokenizer({ ...config.locations, encoder: this.pool });
    this.modelName = config.modelName;
    this.configuredModels = [...new Set([...Object.keys(config.locations.modelDirs ?? {}), ...(config.modelName !== undefined ? [config.modelName] : [])])];
  }

  get workers(): number {
    return this.pool.size;
  }

  async warm(): Promise<void> {
    const results = await Promise.allSettled(this.configuredModels.map((model) => this.prompts.store.get(model)));
    const index = results.findIndex((result) => result.status === 'rejected');
    if (index < 0) return;
    const model = this.configuredModels[index]!;
    const err = (results[index] as PromiseRejectedResult).reason as Error & { code?: string };
    if (err.code !== 'model_not_found') throw err;
    const { modelDirs, searchDirs, defaultDir } = this.config.locations;
    const places = modelDirs?.[model] ?? [...(searchDirs ?? []), ...(defaultDir !== undefined ? [defaultDir] : [])].join(', ');
    throw new TokenizationError('model_not_found', `no tokenizer.json for model ${JSON.stringify(model)} in ${places || 'no directory'}`, { cause: err });
  }

  busy(): boolean {
    return this.pool.pending >= this.pool.size;
  }

  async tokenize(model: string, body: InferenceBody): Promise<Uint32Array> {
    return (await this.prompts.tokenizeRequest(this.modelName ?? model, body)).tokens;
  }

  stream(model: string, body: InferenceBody): Promise<TokenStream> {
    return this.prompts.streamRequest(this.modelName ?? model, body);
  }

  async close(): Promise<void> {
    await this.prompts.close();
    await this.pool.close();
  }
}

export function createRequestTokenizer(config: TokenizerConfig, pool?: TokenizerPoolConfig): RequestTokenizer {
  return config.type === 'simulated' ? new SimulatedRequestTokenizer() : new LocalRequestTokenizer(config, pool);
}

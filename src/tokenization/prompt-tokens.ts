/**
 * Structured request body → the token ids vLLM will see. Shared by
 * the EPP's precise prefix-cache scorer and the simulator's `--tokenizer` mode.
 *
 *  - chat: render with the model's chat template (chat-template.ts), tokenize without special
 *    tokens (the template already wrote BOS etc.; vLLM's chat default);
 *  - completions: the prompt string with special tokens (vLLM's completions default), or the ids
 *    as given; for a batch prompt, the first one (each prompt is its own sequence);
 *  - responses: plain message input rendered as a chat.
 *
 * Speed: text is encoded piece-wise with a cache of seen pieces (segmented-encoder.ts), so a
 * follow-up turn encodes just its new messages; the ids equal a whole-text encode. Tokenizers
 * run in a worker thread by default (worker-encoder.ts), off the caller's event loop.
 */
import type { ChatCompletionsBody, ChatMessage, CompletionsBody, InferenceBody, ResponsesBody } from '../openai/types.js';
import { carryRopes, RopeMatcher, ropesOf } from '../openai/ropes.js';
import { ChatTemplates, type ChatTemplatesOptions } from './chat-template.js';
import { TokenizationError } from './errors.js';
import type { SegmentCacheStats } from './segment-cache.js';
import { SegmentedEncoder, type SegmentedEncoderOptions } from './segmented-encoder.js';
import { TextParts } from './text-parts.js';
import { IdsStream, type TokenStream } from './token-stream.js';
import { TokenizerStore, type TokenizerStoreOptions } from './tokenizer-store.js';

export interface PromptTokenizerOptions extends TokenizerStoreOptions, SegmentedEncoderOptions, ChatTemplatesOptions {
  /** Use this store instead of creating (and owning) one from the options. */
  store?: TokenizerStore;
}

export interface TokenizedPrompt {
  /** The prompt's token ids. */
  tokens: Uint32Array;
  /** The text that was tokenized (rendered chat or completion prompt); absent for id prompts. */
  text?: string;
}

export class PromptTokenizer {
  readonly store: TokenizerStore;
  private readonly ownsStore: boolean;
  private readonly templates: ChatTemplates;
  private readonly segmented: SegmentedEncoder;

  constructor(options: PromptTokenizerOptions = {}) {
    this.store = options.store ?? new TokenizerStore(options);
    this.ownsStore = options.store === undefined;
    this.segmented = new SegmentedEncoder(options);
    this.templates = new ChatTemplates(options);
  }

  /** Token ids of an inference request to `model`; rejects with a TokenizationError. */
  async tokenizeRequest(model: string, request: InferenceBody): Promise<TokenizedPrompt> {
    switch (request.api) {
      case 'chat_completions':
        return this.tokenizeChat(model, request.body);
      case 'completions':
        return this.tokenizeCompletion(model, request.body.prompt);
      case 'responses':
        return this.tokenizeChat(model, responsesAsChat(request.body));
    }
  }

  /**
   * The request's ids as a stream (token-stream.ts), for callers that may stop early; the chunks
   * concatenate to `tokenizeRequest`'s tokens. `firstChars` sizes the first batch.
   */
  async streamRequest(model: string, request: InferenceBody, firstChars?: number): Promise<TokenStream> {
    switch (request.api) {
      case 'chat_completions':
      case 'responses': {
        const body = request.api === 'responses' ? responsesAsChat(request.body) : request.body;
        const tokenizer = await this.store.get(model);
        return this.segmented.stream(tokenizer, this.templates.renderText(body, tokenizer.config), false, firstChars);
      }
      case 'completions': {
        const prompt = completionPrompt(request.body.prompt);
        if (typeof prompt === 'string') {
          // A long prompt parsed in pieces is split in its pieces (text-parts.ts).
          const pieces = new RopeMatcher(ropesOf(request.body)).find(prompt)?.pieces;
          return this.segmented.stream(await this.store.get(model), pieces ? new TextParts(pieces) : prompt, true, firstChars);
        }
        return new IdsStream(prompt, firstChars === undefined ? undefined : Math.ceil(firstChars / 4));
      }
    }
  }

  /** The rendered prompt text of a chat request. */
  async renderChat(model: string, body: ChatCompletionsBody): Promise<string> {
    const tokenizer = await this.store.get(model);
    return this.templates.render(body, tokenizer.config);
  }

  /** Token ids of `text`, as the model's tokenizer would produce them in one call. */
  async tokenizeText(model: string, text: string, addSpecialTokens: boolean): Promise<Uint32Array> {
    return this.segmented.encode(await this.store.get(model), text, addSpecialTokens);
  }

  segmentCacheStats(): SegmentCacheStats | undefined {
    return this.segmented.stats();
  }

  async close(): Promise<void> {
    this.segmented.clear();
    if (this.ownsStore) await this.store.close();
  }

  private async tokenizeChat(model: string, body: ChatCompletionsBody): Promise<TokenizedPrompt> {
    const tokenizer = await this.store.get(model);
    const text = this.templates.render(body, tokenizer.config);
    return { tokens: await this.segmented.encode(tokenizer, text, false), text };
  }

  private async tokenizeCompletion(model: string, prompt: CompletionsBody['prompt']): Promise<TokenizedPrompt> {
    const first = completionPrompt(prompt);
    if (typeof first === 'string') {
      return { tokens: await this.segmented.encode(await this.store.get(model), first, true), text: first };
    }
    return { tokens: first };
  }
}

/** The first prompt of a completions body (each prompt is its own sequence): text or ids. */
function completionPrompt(prompt: CompletionsBody['prompt']): string | Uint32Array {
  const first: unknown = Array.isArray(prompt) && prompt.length > 0 && typeof prompt[0] !== 'number' ? prompt[0] : prompt;
  if (typeof first === 'string') return first;
  if (Array.isArray(first) && first.every((id) => Number.isInteger(id) && id >= 0)) return Uint32Array.from(first as number[]);
  throw new TokenizationError('unsupported', 'completion prompt is neither text nor token ids');
}

/**
 * A Responses API body as the chat it amounts to: `instructions` as a system message, then the
 * input (a string, or message items). Tools and non-message items are not rendered here.
 */
export function responsesAsChat(body: ResponsesBody): ChatCompletionsBody {
  const loose = body as ResponsesBody & { instructions?: unknown; tools?: unknown };
  if (Array.isArray(loose.tools) && loose.tools.length > 0) {
    throw new TokenizationError('unsupported', 'responses requests with tools are not tokenized');
  }
  const messages: ChatMessage[] = [];
  if (typeof loose.instructions === 'string') messages.push({ role: 'system', content: loose.instructions });
  if (typeof body.input === 'string') {
    messages.push({ role: 'user', content: body.input });
  } else {
    for (const item of body.input) {
      const message = item as { type?: unknown; role?: unknown; content?: unknown };
      const isMessage = (message.type === undefined || message.type === 'message') && typeof message.role === 'string';
      if (!isMessage) throw new TokenizationError('unsupported', `responses input item of type ${String(message.type)} is not tokenized`);
      messages.push({ role: message.role as string, content: message.content as ChatMessage['content'] });
    }
  }
  const chat = { model: body.model, messages } as ChatCompletionsBody;
  carryRopes(body, chat);
  return chat;
}

/**
 * Renders a chat request to the prompt text vLLM would build, in process
 * with `@huggingface/jinja` — no Python.
 *
 * Template choice (transformers' `get_chat_template`, as vLLM uses it): the request's
 * `chat_template` (a model template name, or template source) → the model's `tool_use` template
 * when the request carries tools and the model has one → the model's default template.
 *
 * Context (transformers' `render_jinja_template`): the tokenizer's special tokens, the globals,
 * `chat_template_kwargs` (overriding same-named values, e.g. `enable_thinking`, and even the
 * request's `add_generation_prompt` / `tools` / `documents`, as vLLM's dict update does), then
 * `messages`, `tools` and `documents` (null when absent) and `add_generation_prompt` — absent
 * means true (vLLM's default) unless `continue_final_message` asks to continue the last message.
 *
 * Compiled templates are cached by source (parsing Llama 3.1's template takes milliseconds).
 */
import { Template } from '@huggingface/jinja';
import type { ChatCompletionsBody } from '../openai/types.js';
import { templateMessages, templateTool, type ContentFormat } from './chat-messages.js';
import { detectContentFormat } from './content-format.js';
import type { ModelConfig, ModelTemplates } from './model-files.js';
import { TemplateError } from './errors.js';
import { renderTemplate } from './template-globals.js';
import { renderTemplateParts } from './rope-render.js';
import type { PromptText } from './text-parts.js';
import { ropesOf } from '../openai/ropes.js';

export interface CompiledTemplate {
  readonly template: Template;
  /** How the template reads `message.content` (vLLM's "auto" detection). */
  readonly contentFormat: ContentFormat;
}

/** Request fields that are apply_chat_template parameters, not template variables. */
const NOT_TEMPLATE_VARIABLES = new Set([
  'messages', 'conversation', 'tools', 'documents', 'add_generation_prompt', 'continue_final_message',
  'chat_template', 'tokenize', 'return_dict', 'return_assistant_tokens_mask', 'padding', 'truncation',
]);

/** The template source to use for a request (see the module comment). */
export function selectTemplate(requested: string | null | undefined, templates: ModelTemplates, hasTools: boolean): string {
  if (requested) return templates.named[requested] ?? requested;
  if (hasTools && templates.named.tool_use !== undefined) return templates.named.tool_use;
  if (templates.default !== undefined) return templates.default;
  const names = Object.keys(templates.named);
  throw new TemplateError(
    names.length > 0
      ? `the model has no default chat template (named templates: ${names.join(', ')}); pass chat_template`
      : 'the model has no chat template; pass chat_template in the request',
  );
}

/**
 * transformers' `continue_final_message`: cut the rendered text right after the final message's
 * content (its last text part), so the model continues it instead of starting a new turn.
 */
export function cutAfterFinalMessage(rendered: string, content: unknown): string {
  let finalText: unknown = content;
  if (Array.isArray(content)) {
    finalText = undefined;
    for (let i = content.length - 1; i >= 0; i--) {
      const part: unknown = content[i];
      if (part !== null && typeof part === 'object' && typeof (part as { text?: unknown }).text === 'string') {
        finalText = (part as { text: string }).text;
        break;
      }
    }
  }
  if (typeof finalText !== 'string') throw new TemplateError('continue_final_message is set but the final message has no text to continue');
  const stripped = finalText.trim();
  const at = rendered.lastIndexOf(stripped);
  if (at < 0) throw new TemplateError('continue_final_message is set but the final message does not appear in the rendered chat');
  const leftStripped = finalText.trimStart();
  // Keep trailing whitespace the template preserved; otherwise cut after the stripped text.
  const keep = rendered.slice(at, at + leftStripped.length) === finalText ? leftStripped.length : stripped.length;
  return rendered.slice(0, at + keep);
}

export interface ChatTemplatesOptions {
  /** Compiled templates kept (default 64; request templates are client-controlled, so bounded). */
  capacity?: number;
  /**
   * Render a request's own `chat_template` (default true). A template is a program: a client can
   * make it loop for a long time on the renderer's thread. vLLM only accepts request templates
   * with `--trust-request-chat-template`; with false, such requests fail here as they do there.
   */
  trustRequestChatTemplate?: boolean;
}

export class ChatTemplates {
  private readonly compiled = new Map<string, CompiledTemplate>();
  private readonly capacity: number;
  private readonly trustRequestChatTemplate: boolean;

  constructor(options: ChatTemplatesOptions = {}) {
    this.capacity = options.capacity ?? 64;
    this.trustRequestChatTemplate = options.trustRequestChatTemplate ?? true;
  }

  compile(source: string): CompiledTemplate {
    let entry = this.compiled.get(source);
    if (entry) {
      this.compiled.delete(source);
    } else {
      let template: Template;
      try {
        template = new Template(source);
      } catch (error) {
        throw new TemplateError(`chat template does not parse: ${(error as Error).message}`, { cause: error });
      }
      entry = { template, contentFormat: detectContentFormat(template.parsed) };
      if (this.compiled.size >= this.capacity) this.compiled.delete(this.compiled.keys().next().value!);
    }
    this.compiled.set(source, entry);
    return entry;
  }

  /** The prompt text for a chat request to a model with the given templates and special tokens. */
  render(body: ChatCompletionsBody, model: ModelConfig): string {
    return renderWhole(this.prepare(body, model));
  }

  /**
   * The same text, in parts when the body's long values were parsed in pieces
   * (src/openai/ropes.ts): then neither they nor the prompt become one large string
   * (rope-render.ts). `continue_final_message` needs the whole text and renders it whole.
   */
  renderText(body: ChatCompletionsBody, model: ModelConfig): PromptText {
    const prepared = this.prepare(body, model);
    if (prepared.continueFinal) return renderWhole(prepared);
    return failsAsTemplateError(() => renderTemplateParts(prepared.template, prepared.context, ropesOf(body)));
  }

  /** The template and its variables for a request (transformers' `render_jinja_template`). */
  private prepare(body: ChatCompletionsBody, model: ModelConfig): Prepared {
    const merged: Record<string, unknown> = {
      tools: body.tools ?? null,
      documents: body.documents ?? null,
      add_generation_prompt: body.add_generation_prompt ?? undefined,
      continue_final_message: body.continue_final_message ?? false,
      ...body.chat_template_kwargs,
    };
    const continueFinal = merged.continue_final_message === true;
    const addGenerationPrompt = merged.add_generation_prompt == null ? !continueFinal : Boolean(merged.add_generation_prompt);
    if (continueFinal && addGenerationPrompt) {
      throw new TemplateError('add_generation_prompt and continue_final_message cannot both be true');
    }
    const tools = Array.isArray(merged.tools) ? (merged.tools as Record<string, unknown>[]).map(templateTool) : (merged.tools ?? null);
    if (body.chat_template && !this.trustRequestChatTemplate && model.templates.named[body.chat_template] === undefined) {
      throw new TemplateError('request chat_template is not trusted (trustRequestChatTemplate: false)');
    }
    const source = selectTemplate(body.chat_template, model.templates, tools !== null);
    const { template, contentFormat } = this.compile(source);
    const messages = templateMessages(body.messages, contentFormat);

    const context: Record<string, unknown> = { ...model.specialTokens };
    for (const [key, value] of Object.entries(merged)) {
      if (!NOT_TEMPLATE_VARIABLES.has(key)) context[key] = value;
    }
    context.messages = messages;
    context.tools = tools;
    context.documents = merged.documents ?? null;
    context.add_generation_prompt = addGenerationPrompt;
    return { template, context, continueFinal, finalContent: messages.at(-1)?.content };
  }
}

interface Prepared {
  template: Template;
  context: Record<string, unknown>;
  continueFinal: boolean;
  finalContent: unknown;
}

/** The prepared template rendered as one string (cut after the final message when continuing it). */
function renderWhole({ template, context, continueFinal, finalContent }: Prepared): string {
  const rendered = failsAsTemplateError(() => renderTemplate(template, context));
  return continueFinal ? cutAfterFinalMessage(rendered, finalContent) : rendered;
}

/** Runs a render; its failures become TemplateErrors. */
function failsAsTemplateError<T>(render: () => T): T {
  try {
    return render();
  } catch (error) {
    if (error instanceof TemplateError) throw error;
    throw new TemplateError(`chat template failed: ${(error as Error).message}`, { cause: error });
  }
}

/** Typed request bodies shared by the EPP, the sidecar and the simulator. */
import type { z } from 'zod';
import type * as schema from './schema.js';

export type ChatMessage = z.infer<typeof schema.ChatMessage>;
export type ContentPart = z.infer<typeof schema.ContentPart>;
export type ToolCall = z.infer<typeof schema.ToolCall>;
export type CompletionsBody = z.infer<typeof schema.CompletionsBody>;
export type ChatCompletionsBody = z.infer<typeof schema.ChatCompletionsBody>;
export type ResponsesBody = z.infer<typeof schema.ResponsesBody>;

/** Which OpenAI API a body is; the path decides it (apis.ts `apiForPath`). */
export type ApiKind = 'completions' | 'chat_completions' | 'responses';

export type InferenceBody =
  | { api: 'completions'; body: CompletionsBody }
  | { api: 'chat_completions'; body: ChatCompletionsBody }
  | { api: 'responses'; body: ResponsesBody };

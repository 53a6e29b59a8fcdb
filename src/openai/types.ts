/** Typed request bodies shared by the EPP, the sidecar and the simulator. */
import type { z } from 'zod';
import type * as schema from './schema.js';

export type ChatMessage = z.infer<typeof schema.ChatMessage>;
export type ContentPart = z.infer<typeof schema.ContentPart>;
export type ToolCall = z.infer<typeof schema.ToolCall>;
export type CompletionsBody = z.infer<typeof schema.CompletionsBody>;
export type ChatCompletionsBody = z.infer<typeof schema.ChatCompletionsBody>;
export type ResponsesBody = z.infer<typeof schema.ResponsesBody>;

/** Which OpenAI API a request speaks; decided by its path. */
export type ApiKind = 'completions' | 'chat_completions' | 'responses';

export type InferenceBody =
  | { api: 'completions'; body: CompletionsBody }
  | { api: 'chat_completions'; body: ChatCompletionsBody }
  | { api: 'responses'; body: ResponsesBody };

/** Maps an inference path to its API; undefined for anything else. */
export function apiForPath(path: string): ApiKind | undefined {
  switch (path) {
    case '/v1/completions': return 'completions';
    case '/v1/chat/completions': return 'chat_completions';
    case '/v1/responses': return 'responses';
    default: return undefined;
  }
}

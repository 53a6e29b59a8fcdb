/**
 * zod schemas for the OpenAI request bodies pd-router reads. Objects are loose: fields we do not
 * model are kept in the parsed value (and, more importantly, untouched in the raw bytes that are
 * forwarded). Only the fields some component reads are typed.
 */
import { z } from 'zod';

const nullableInt = z.number().int().nullish();

export const StreamOptions = z.looseObject({
  include_usage: z.boolean().nullish(),
  continuous_usage_stats: z.boolean().nullish(),
});

/** kv_transfer_params is opaque: whatever the engine put in, we pass on verbatim. */
export const KvTransferParams = z.record(z.string(), z.unknown());

export const ContentPart = z.looseObject({
  type: z.string(),
  text: z.string().optional(),
  image_url: z.looseObject({ url: z.string() }).optional(),
  audio_url: z.looseObject({ url: z.string() }).optional(),
  input_audio: z.looseObject({ data: z.string(), format: z.string().optional() }).optional(),
});

export const ToolCall = z.looseObject({
  id: z.string().optional(),
  type: z.string().default('function'),
  function: z.looseObject({
    name: z.string(),
    // OpenAI sends arguments as a JSON string; some clients send an object. Both are accepted.
    arguments: z.union([z.string(), z.record(z.string(), z.unknown())]).optional(),
  }),
});

export const ChatMessage = z.looseObject({
  role: z.string(),
  content: z.union([z.string(), z.array(ContentPart)]).nullish(),
  name: z.string().optional(),
  tool_calls: z.array(ToolCall).nullish(),
  tool_call_id: z.string().optional(),
  reasoning_content: z.string().nullish(),
});

const common = {
  model: z.string().min(1),
  stream: z.boolean().nullish(),
  stream_options: StreamOptions.nullish(),
  max_tokens: nullableInt,
  min_tokens: nullableInt,
  n: nullableInt,
  kv_transfer_params: KvTransferParams.nullish(),
  cache_hit_threshold: z.number().nullish(),
};

const tokenIds = z.array(z.number().int());

export const CompletionsBody = z.looseObject({
  ...common,
  prompt: z.union([z.string(), z.array(z.string()), tokenIds, z.array(tokenIds)]),
});

export const ChatCompletionsBody = z.looseObject({
  ...common,
  messages: z.array(ChatMessage).min(1),
  max_completion_tokens: nullableInt,
  tools: z.array(z.looseObject({ type: z.string().optional() })).nullish(),
  tool_choice: z.unknown().optional(),
  documents: z.array(z.record(z.string(), z.unknown())).nullish(),
  chat_template: z.string().nullish(),
  chat_template_kwargs: z.record(z.string(), z.unknown()).nullish(),
  add_generation_prompt: z.boolean().nullish(),
  continue_final_message: z.boolean().nullish(),
});

export const ResponsesBody = z.looseObject({
  model: z.string().min(1),
  input: z.union([z.string(), z.array(z.unknown())]),
  stream: z.boolean().nullish(),
  max_output_tokens: nullableInt,
  kv_transfer_params: KvTransferParams.nullish(),
});

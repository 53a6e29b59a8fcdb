import { describe, expect, it } from 'vitest';
import { OpenAIError } from '../../src/openai/errors.js';
import { parseInferenceBody, parseJsonObject } from '../../src/openai/parse.js';
import { apiForPath, apiForPathSuffix } from '../../src/openai/apis.js';

function expectError(fn: () => unknown, status: number, fragment: string): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(OpenAIError);
    expect((err as OpenAIError).status).toBe(status);
    expect((err as OpenAIError).message).toContain(fragment);
    return;
  }
  throw new Error('expected an OpenAIError');
}

describe('parseInferenceBody', () => {
  it('parses completions prompts of every shape', () => {
    for (const prompt of ['hi', ['a', 'b'], [1, 2, 3], [[1, 2], [3]]]) {
      const parsed = parseInferenceBody('completions', JSON.stringify({ model: 'm', prompt }));
      expect(parsed.api).toBe('completions');
      if (parsed.api === 'completions') expect(parsed.body.prompt).toEqual(prompt);
    }
  });

  it('parses chat messages with content parts, tool calls and the templating fields', () => {
    const body = {
      model: 'm',
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: [{ type: 'text', text: 'look' }, { type: 'image_url', image_url: { url: 'http://x/y.png' } }] },
        { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }] },
        { role: 'tool', tool_call_id: 'c1', content: '42', name: 'f' },
      ],
      tools: [{ type: 'function', function: { name: 'f' } }],
      documents: [{ title: 't', text: 'd' }],
      chat_template: '{{ messages }}',
      chat_template_kwargs: { enable_thinking: false },
      add_generation_prompt: true,
      continue_final_message: false,
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: 5,
      max_completion_tokens: 6,
      kv_transfer_params: { do_remote_decode: true },
      vendor_field: { kept: true },
    };
    const parsed = parseInferenceBody('chat_completions', JSON.stringify(body));
    if (parsed.api !== 'chat_completions') throw new Error('wrong api');
    expect(parsed.body.messages).toHaveLength(4);
    expect(parsed.body.messages[2]!.tool_calls![0]!.function.name).toBe('f');
    expect(parsed.body.chat_template_kwargs).toEqual({ enable_thinking: false });
    expect(parsed.body.stream_options?.include_usage).toBe(true);
    expect((parsed.body as Record<string, unknown>).vendor_field).toEqual({ kept: true });
  });

  it('parses responses bodies', () => {
    const parsed = parseInferenceBody('responses', '{"model":"m","input":"hi","max_output_tokens":3}');
    expect(parsed.api === 'responses' && parsed.body.max_output_tokens).toBe(3);
  });

  it('answers bad input with 400 errors that name the field', () => {
    expectError(() => parseInferenceBody('chat_completions', '{"model":"m"'), 400, 'not valid JSON');
    expectError(() => parseJsonObject('[1]'), 400, 'must be a JSON object');
    expectError(() => parseJsonObject('null'), 400, 'must be a JSON object');
    expectError(() => parseInferenceBody('chat_completions', '{"model":"m","messages":[]}'), 400, 'messages');
    expectError(() => parseInferenceBody('chat_completions', '{"model":"m","messages":[{"content":"x"}]}'), 400, 'messages[0].role');
    expectError(() => parseInferenceBody('completions', '{"prompt":"x"}'), 400, 'model');
    expectError(() => parseInferenceBody('completions', '{"model":"m","prompt":"x","max_tokens":"5"}'), 400, 'max_tokens');
  });

  it('maps paths to APIs', () => {
    expect(apiForPath('/v1/chat/completions')).toBe('chat_completions');
    expect(apiForPath('/v1/completions')).toBe('completions');
    expect(apiForPath('/v1/responses')).toBe('responses');
    expect(apiForPath('/v1/messages')).toBe('messages');
    expect(apiForPath('/v1/embeddings')).toBeUndefined();
    expect(apiForPathSuffix('/llm/v1/chat/completions?x=1')).toBe('chat_completions');
    expect(apiForPathSuffix('/v1/completions/')).toBe('completions');
    expect(apiForPathSuffix('/v1/messages')).toBe('messages');
    expect(apiForPathSuffix('/v1/messages/count_tokens')).toBeUndefined();
    expect(apiForPathSuffix('/v1/embeddings')).toBeUndefined();
  });

  it('serialises errors in the OpenAI envelope', () => {
    const err = new OpenAIError(503, 'busy');
    expect(err.toBody()).toEqual({ error: { message: 'busy', type: 'ServiceUnavailable', param: null, code: 503 } });
  });
});

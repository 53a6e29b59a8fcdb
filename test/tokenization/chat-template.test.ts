/**
 * vLLM's rendering rules (docs/prefix-cache.md "Rendering rules") with small synthetic templates: template choice,
 * variables, add_generation_prompt default, continue_final_message, content parts in both
 * content formats, tool-call argument parsing, tools as vLLM dumps them, globals.
 */
import { describe, expect, it } from 'vitest';
import { validateBody } from '../../src/openai/parse.js';
import type { ChatCompletionsBody } from '../../src/openai/types.js';
import { ChatTemplates, cutAfterFinalMessage, selectTemplate } from '../../src/tokenization/chat-template.js';
import { TemplateError } from '../../src/tokenization/errors.js';
import type { ModelConfig } from '../../src/tokenization/model-files.js';
import { strftime } from '../../src/tokenization/template-globals.js';

function chat(body: Record<string, unknown>): ChatCompletionsBody {
  return validateBody('chat_completions', { model: 'm', ...body }).body as ChatCompletionsBody;
}

const SIMPLE = "{{ bos_token }}{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}assistant: {% endif %}";
const PARTS = "{% for m in messages %}{{ m.role }}:{% for p in m.content %}[{{ p.type }}{% if p.text %}={{ p.text }}{% endif %}]{% endfor %}{{ '\\n' }}{% endfor %}";

function model(template: string, named: Record<string, string> = {}): ModelConfig {
  return { templates: { default: template, named }, specialTokens: { bos_token: '<s>', eos_token: '</s>' } };
}

const templates = new ChatTemplates();
const render = (body: Record<string, unknown>, config = model(SIMPLE)): string => templates.render(chat(body), config);

describe('ChatTemplates.render', () => {
  const messages = [{ role: 'user', content: 'hi' }];

  it('passes special tokens and treats an absent add_generation_prompt as true', () => {
    expect(render({ messages })).toBe('<s>user: hi\nassistant: ');
    expect(render({ messages, add_generation_prompt: false })).toBe('<s>user: hi\n');
  });

  it('spreads chat_template_kwargs into the context, over special tokens and request flags', () => {
    const config = model('{{ bos_token }}|{{ flavour }}|{{ add_generation_prompt }}');
    expect(render({ messages, chat_template_kwargs: { flavour: 'x', bos_token: 'B', add_generation_prompt: false } }, config)).toBe('B|x|false');
  });

  it('continue_final_message cuts after the last message and defaults add_generation_prompt to false', () => {
    const body = { messages: [...messages, { role: 'assistant', content: 'Once upon ' }], continue_final_message: true };
    // The template kept the message's trailing space, so the cut keeps it too (transformers' rule).
    expect(render(body)).toBe('<s>user: hi\nassistant: Once upon ');
    expect(() => render({ ...body, add_generation_prompt: true })).toThrow(TemplateError);
  });

  it('joins text parts with newlines for string-format templates', () => {
    const content = [{ type: 'text', text: 'a' }, { type: 'image_url', image_url: { url: 'http://x' } }, { type: 'text', text: 'b' }];
    expect(render({ messages: [{ role: 'user', content }], add_generation_prompt: false })).toBe('<s>user: a\nb\n');
  });

  it('gives openai-format templates part lists (strings wrapped, media typed)', () => {
    const content = [{ type: 'text', text: 'a' }, { type: 'image_url', image_url: { url: 'http://x' } }];
    const out = render({ messages: [{ role: 'system', content: 'sys' }, { role: 'user', content }, { role: 'assistant', content: null }] }, model(PARTS));
    expect(out).toBe('system:[text=sys]\nuser:[text=a][image]\nassistant:\n');
  });

  it('parses tool-call arguments, drops empty tool_calls and keeps tool_call_id and name', () => {
    const config = model(
      '{% for m in messages %}{{ m.role }}|{{ m.tool_calls is defined }}|{% for c in m.tool_calls or [] %}{{ c.function.arguments.city }}{{ c.function.arguments | tojson }}{% endfor %}|{{ m.tool_call_id }}|{{ m.name }}\n{% endfor %}',
    );
    const out = render({
      messages: [
        { role: 'assistant', content: '', tool_calls: [{ id: '1', type: 'function', function: { name: 'f', arguments: '{"city":"Oslo","n":[1,2]}' } }] },
        { role: 'assistant', content: 'x', tool_calls: [] },
        { role: 'tool', content: 'r', tool_call_id: '1', name: 'f' },
      ],
      add_generation_prompt: false,
    }, config);
    expect(out).toBe('assistant|true|Oslo{"city": "Oslo", "n": [1, 2]}||\nassistant|false|||\ntool|false||1|f\n');
  });

  it('renders tools as vLLM model_dump()s them and passes documents; tools select the tool_use template', () => {
    const config = model('{{ tools | tojson }}|{{ documents | tojson }}', { tool_use: 'TOOLS {{ tools | length }}' });
    const tool = { function: { parameters: { type: 'object' }, name: 'f', strict: true } };
    expect(templates.render(chat({ messages, documents: [{ title: 't' }] }), model('{{ tools | tojson }}|{{ documents | tojson }}'))).toBe('null|[{"title": "t"}]');
    expect(templates.render(chat({ messages, tools: [tool] }), model('{{ tools | tojson }}'))).toBe(
      '[{"type": "function", "function": {"name": "f", "description": null, "parameters": {"type": "object"}, "strict": true}}]',
    );
    expect(templates.render(chat({ messages, tools: [tool] }), config)).toBe('TOOLS 1');
  });

  it('offers raise_exception and a C-locale strftime_now; kwargs may shadow globals', () => {
    expect(() => render({ messages }, model("{{ raise_exception('no system role') }}"))).toThrow(/no system role/);
    expect(render({ messages }, model("{{ strftime_now('%Y') }}"))).toBe(String(new Date().getFullYear()));
    expect(render({ messages, chat_template_kwargs: { strftime_now: 'shadowed' } }, model('{{ strftime_now }}'))).toBe('shadowed');
  });

  it('refuses untrusted request templates (model template names still work) and huge ranges', () => {
    const strict = new ChatTemplates({ trustRequestChatTemplate: false });
    const config = model(SIMPLE, { short: '{{ messages | length }}' });
    expect(() => strict.render(chat({ messages, chat_template: '{{ 1 }}' }), config)).toThrow(/not trusted/);
    expect(strict.render(chat({ messages, chat_template: 'short' }), config)).toBe('1');
    expect(() => render({ messages }, model('{% for i in range(100000000) %}{% endfor %}'))).toThrow(/range/);
  });

  it('wraps template failures in TemplateError', () => {
    expect(() => render({ messages }, model('{% for %}'))).toThrow(TemplateError);
    expect(() => render({ messages }, model('{{ messages[0].content.nope() }}'))).toThrow(TemplateError);
  });
});

describe('selectTemplate', () => {
  const templatesOf = { default: 'D', named: { default: 'D', tool_use: 'T', fancy: 'F' } };

  it('prefers the request template (by name or as source), then tool_use with tools, then default', () => {
    expect(selectTemplate('fancy', templatesOf, false)).toBe('F');
    expect(selectTemplate('{{ x }}', templatesOf, true)).toBe('{{ x }}');
    expect(selectTemplate(undefined, templatesOf, true)).toBe('T');
    expect(selectTemplate(null, templatesOf, false)).toBe('D');
    expect(() => selectTemplate(undefined, { named: { tool_use: 'T' } }, false)).toThrow(/no default chat template/);
    expect(() => selectTemplate(undefined, { named: {} }, false)).toThrow(TemplateError);
  });
});

describe('cutAfterFinalMessage', () => {
  it('keeps trailing whitespace only when the template kept it', () => {
    expect(cutAfterFinalMessage('A: hello \n<end>', 'hello ')).toBe('A: hello ');
    expect(cutAfterFinalMessage('A: hello<end>', 'hello  ')).toBe('A: hello');
    expect(cutAfterFinalMessage('A: x y<end>', [{ type: 'text', text: 'x' }, { type: 'text', text: 'y' }])).toBe('A: x y');
    expect(() => cutAfterFinalMessage('nothing', 'absent')).toThrow(TemplateError);
  });
});

describe('strftime', () => {
  it('formats like Python in the C locale', () => {
    const date = new Date(2024, 6, 6, 15, 4, 5);
    expect(strftime(date, '%d %b %Y')).toBe('06 Jul 2024');
    expect(strftime(date, '%A %B %-d, %H:%M:%S %p %j %y %%')).toBe('Saturday July 6, 15:04:05 PM 188 24 %');
    expect(strftime(date, '%I %e %Q')).toBe('03  6 %Q');
  });
});

/**
 * Long message contents kept in pieces from the parser to the tokenizer (src/openai/ropes.ts,
 * rope-render.ts, text-parts.ts): rendering with markers gives exactly the plain render's text —
 * in parts when the template only concatenates, tests or trims the long values, whole when it
 * reads them otherwise — and splitting the parts gives exactly the pieces of splitting the
 * string, so the ids are the same.
 */
import { describe, expect, it } from 'vitest';
import { BodyBytes } from '../../src/http/body-bytes.js';
import { parseInferenceBody, validateBody } from '../../src/openai/parse.js';
import { attachRopes, RopeMatcher, ropesOf } from '../../src/openai/ropes.js';
import type { ChatCompletionsBody, ChatMessage } from '../../src/openai/types.js';
import { seededRandom } from '../../src/random.js';
import { AddedTokenSplitter } from '../../src/tokenization/added-tokens.js';
import { ChatTemplates } from '../../src/tokenization/chat-template.js';
import { TemplateError } from '../../src/tokenization/errors.js';
import type { ModelConfig } from '../../src/tokenization/model-files.js';
import { TextParts, wholeText, type PromptText } from '../../src/tokenization/text-parts.js';
import { readAll } from '../../src/tokenization/token-stream.js';
import { LLAMA31, QWEN3 } from '../helpers/models.js';
import { randomPieces, randomText, suitePromptTokenizers } from '../helpers/prompt-text.js';

/** A validated chat body whose contents of at least `longest` characters are ropes cut at random. */
function ropeBody(messages: ChatMessage[], next: () => number, extra: Record<string, unknown> = {}, longest = 200): ChatCompletionsBody {
  const body = validateBody('chat_completions', { model: 'm', messages, ...extra }).body as ChatCompletionsBody;
  const ropes = body.messages
    .map((message) => message.content)
    .filter((content): content is string => typeof content === 'string' && content.length >= longest)
    .map((text) => ({ text, pieces: randomPieces(text, next, 1 + Math.floor(next() * 300)) }));
  attachRopes(body, ropes);
  return body;
}

const templates = new ChatTemplates();
const model = (template: string): ModelConfig => ({ templates: { default: template, named: {} }, specialTokens: { bos_token: '<s>' } });

/** renderText against render: same text; whether it came back in parts. */
function compare(body: ChatCompletionsBody, config: ModelConfig): { parts: boolean; text: string } {
  const plain = templates.render(body, config);
  const text = templates.renderText(body, config);
  expect(wholeText(text)).toBe(plain);
  return { parts: text instanceof TextParts, text: plain };
}

const LONG = `  ${'Section 4.2 of the agreement shall apply. '.repeat(20)}\n`;
const user = (content: string): ChatMessage => ({ role: 'user', content });

describe('rendering with long values in pieces', () => {
  const next = seededRandom(7);
  const loop = (body: string): string => `{% for m in messages %}${body}{% endfor %}`;
  // [template, rendered in parts?]
  const cases: Array<[string, string, boolean]> = [
    ['concatenation and output', loop("{{ '<' + m.role + '>' + m.content ~ '|' ~ loop.index }}"), true],
    ['set, namespace and block set', "{% set ns = namespace(c='') %}{% for m in messages %}{% set ns.c = m.content %}{% set b %}[{{ ns.c }}]{% endset %}{{ b }}{% endfor %}", true],
    ['startswith / endswith, strings and tuples', loop("{{ m.content.startswith('  Sec') }}{{ m.content.endswith(('x', 'apply. \\n')) }}{{ m.content }}"), true],
    ['trim and length', loop('{{ m.content|trim }}|{{ m.content|length }}|{{ (m.content|trim)|length }}'), true],
    ['type tests, truthiness, key tests', loop("{% if m.content is string and m.content and 'content' in m %}{{ m.content }}{% endif %}"), true],
    ['list filters and slices of lists', "{{ (messages|last).content }}{% for m in messages[1:]|reverse %}{{ m.content }}{% endfor %}{{ messages|length }}", true],
    ['comparison reads the value', loop("{{ m.content == 'x' }}"), false],
    ['in, searched piece by piece', loop("{{ 'agreement shall' in m.content }}{{ 'x\n' not in m.content }}{{ 'absent' in m.content }}{{ m.content }}"), true],
    ['in with the value on the left reads it', loop("{{ m.content in 'x' }}"), false],
    ['an index reads the value', loop('{{ m.content[0] }}'), false],
    ['split reads the value', loop("{{ m.content.split('.')|length }}"), false],
    ['a derived string read by a filter', loop('{% set b %}{{ m.content }}{% endset %}{{ b|upper }}'), false],
    ['tojson reads the value', '{{ messages|tojson }}', false],
    ['a list printed as its repr', '{{ messages }}', false],
    ['a macro taking the value', '{% macro show(c) %}<{{ c }}>{% endmacro %}' + loop('{{ show(m.content) }}'), false],
    ['a namespace holding the value, printed', '{% set ns = namespace() %}' + loop('{% set ns.c = m.content %}') + '{{ ns }}', false],
    ['a namespace holding the value, tested by a filter', '{% set ns = namespace() %}' + loop('{% set ns.c = m.content %}') + "{{ [ns]|selectattr('c', 'lower')|list|length }}", false],
    ['a namespace changed after it was looked at', "{% set ns = namespace(c='') %}{% set l = [ns] %}{{ l|length }}" + loop('{% set ns.c = m.content %}') + '{{ l|join }}', false],
    ['join printing lists of values', '{{ [messages]|join }}{{ [[messages[1].content]]|join }}', false],
    ['a mapping method that compares values', loop("{% for k, v in m.dictsort(by='value') %}{{ k }},{% endfor %}"), false],
    ['a string method itself, not called', loop('{{ m.content.startswith }}{{ m.content.endswith == m.content.endswith }}'), false],
  ];

  it.each(cases)('%s', (_name, template, inParts) => {
    const body = ropeBody([{ role: 'system', content: 'short' }, user(LONG), { role: 'assistant', content: 'ok' }, user(`${LONG}x`)], next);
    expect(ropesOf(body)).toHaveLength(2);
    expect(compare(body, model(template)).parts).toBe(inParts);
  });

  it('a long value that trims to nothing, and a body with no ropes', () => {
    const blank = ropeBody([user(' \n\t'.repeat(100))], next);
    expect(compare(blank, model(loop('[{{ m.content|trim }}]'))).text).toBe('[]');
    const plain = validateBody('chat_completions', { model: 'm', messages: [user(LONG)] }).body as ChatCompletionsBody;
    expect(templates.renderText(plain, model(loop('{{ m.content }}')))).toBe(LONG);
  });

  it('objects around the long values keep their keys, an own __proto__ included', () => {
    const kwargs = JSON.parse('{"chat_template_kwargs": {"o": {"__proto__": 1, "b": 2}}}') as Record<string, unknown>;
    const body = ropeBody([user(LONG)], next, kwargs);
    const { parts, text } = compare(body, model('{{ o|length }}{% for k in o %}{{ k }},{% endfor %}{{ o|tojson }}' + loop('{{ m.content }}')));
    expect(parts).toBe(true);
    expect(text.startsWith('2__proto__,b,')).toBe(true);
  });

  it("a template that fails fails with the plain render's error", () => {
    const body = ropeBody([user(LONG)], next);
    const config = model(loop("{% if m.content.startswith('  Sec') %}{{ raise_exception('no sections: ' + m.content[:9]) }}{% endif %}"));
    expect(() => templates.render(body, config)).toThrow('no sections:   Section');
    expect(() => templates.renderText(body, config)).toThrow(TemplateError);
    expect(() => templates.renderText(body, config)).toThrow('no sections:   Section');
    // Output longer than a string can be: the plain render's error, not parts past the limit.
    const big = ropeBody([user('x'.repeat(1 << 20))], next);
    const huge = model(`{% for i in range(${2 ** 9 + 1}) %}{{ messages[0].content }}{% endfor %}`);
    expect(() => templates.render(big, huge)).toThrow('Invalid string length');
    expect(() => templates.renderText(big, huge)).toThrow('Invalid string length');
    // … also when the too-long string is only built, never printed (markers are short).
    const built = model("{% set ns = namespace(s='') %}{% set ns.s = messages[0].content %}{% for i in range(10) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}ok");
    expect(() => templates.render(big, built)).toThrow('Invalid string length');
    expect(() => templates.renderText(big, built)).toThrow('Invalid string length');
  });

  it('ropes come from the parser for long values of large bodies, through validation', () => {
    const random = seededRandom(3);
    let doc = '';
    while (doc.length < 50_000) doc += randomText(random, 100);
    expect(doc.length).toBeGreaterThan(40_000);
    const raw = Buffer.from(JSON.stringify({ model: 'm', messages: [user(doc)] }));
    const parsed = parseInferenceBody('chat_completions', BodyBytes.of(raw));
    const [rope] = ropesOf(parsed.body);
    expect(rope?.text).toBe(doc);
    expect(rope!.pieces.length).toBeGreaterThan(1);
    expect(rope!.pieces.join('')).toBe(doc);
    expect(ropesOf(parseInferenceBody('chat_completions', raw.toString('utf8')).body)).toHaveLength(0);
  });
});

describe('matching strings to their ropes', () => {
  const texts = Array.from({ length: 50 }, (_, i) => `${'x'.repeat(100)}${String(i).padStart(3, '0')}`);
  const ropes = texts.map((text) => ({ text, pieces: [text.slice(0, 50), text.slice(50)] }));

  it('finds ropes of one length in document order or reversed', () => {
    for (const order of [texts, [...texts].reverse()]) {
      const matcher = new RopeMatcher(ropes);
      for (const text of order) expect(matcher.find(`${text.slice(0, 1)}${text.slice(1)}`)?.pieces).toEqual([text.slice(0, 50), text.slice(50)]);
    }
    expect(new RopeMatcher(ropes).find('y'.repeat(103))).toBeUndefined();
    expect(new RopeMatcher(ropes).find('x'.repeat(102))).toBeUndefined();
  });

  it('stops comparing past a budget linear in the ropes, never matching a wrong one', () => {
    const matcher = new RopeMatcher(ropes);
    let found = 0;
    for (let i = 0; i < texts.length; i++) {
      const text = texts[(i * 17) % texts.length]!;
      const rope = matcher.find(text);
      if (rope) found++;
      if (rope) expect(rope.text).toBe(text);
    }
    expect(found).toBeGreaterThan(0);
    expect(found).toBeLessThan(texts.length);
  });
});

describe('splitting text in parts', () => {
  it('finds the same added tokens as the whole string, across part boundaries (leftmost-longest)', () => {
    const tokens = ['<a>', '<ab>', '<abc>', 'b>', '<|im_start|>', '<|im_end|>'].map((content, id) => ({
      id, content, special: true, lstrip: false, rstrip: false, single_word: false, normalized: false,
    }));
    const splitter = AddedTokenSplitter.create({ addedTokens: tokens, preTokenizer: null, normalizer: null })!;
    const alphabet = ['<', 'a', 'b', 'c', '>', '<ab', 'c>', '<|im_start|>', '<|im_', 'end|>', 'x', ' ', '漢', '🙂'];
    const next = seededRandom(11);
    for (let i = 0; i < 3000; i++) {
      let text = '';
      const length = 1 + Math.floor(next() * 60);
      for (let j = 0; j < length; j++) text += alphabet[Math.floor(next() * alphabet.length)]!;
      const parts = new TextParts(randomPieces(text, next, 1 + Math.floor(next() * 12)));
      expect(splitter.split(parts), JSON.stringify(parts.parts)).toEqual(splitter.split(text));
    }
  });

  it('reads characters and slices across parts like the string', () => {
    const next = seededRandom(5);
    const text = randomText(next, 200);
    const parts = new TextParts(['', ...randomPieces(text, next, 17), '']);
    expect(parts.length).toBe(text.length);
    for (let i = 0; i < 500; i++) {
      const a = Math.floor(next() * (text.length + 2)) - 1;
      const b = Math.floor(next() * (text.length + 2)) - 1;
      expect(parts.charCodeAt(a)).toEqual(text.charCodeAt(a));
      expect(parts.slice(a, b)).toBe(text.slice(Math.max(0, a), Math.max(0, b)));
    }
    expect(parts.toString()).toBe(text);
  });
});

describe.each([QWEN3, LLAMA31])('%s with long contents in pieces', (name) => {
  const tokenizers = suitePromptTokenizers();

  function conversation(next: () => number): ChatMessage[] {
    const messages: ChatMessage[] = [{ role: 'system', content: randomText(next, next() < 0.5 ? 8 : 120) }];
    const turns = 1 + Math.floor(next() * 3);
    for (let i = 0; i < turns; i++) {
      const wrapped = next() < 0.2 ? (text: string) => `<tool_response>${text}</tool_response>` : (text: string) => text;
      messages.push({ role: next() < 0.15 && i > 0 ? 'tool' : 'user', content: wrapped(randomText(next, next() < 0.6 ? 150 : 6)) });
      if (i < turns - 1) messages.push({ role: 'assistant', content: randomText(next, next() < 0.3 ? 100 : 6) });
    }
    return messages;
  }

  it('the real template renders long contents in parts, and the ids equal whole-prompt encoding', async () => {
    const tokenizer = await tokenizers.whole.store.get(name);
    const next = seededRandom(name.length * 31);
    let inParts = 0;
    for (let i = 0; i < 60; i++) {
      const body = ropeBody(conversation(next), next);
      const text: PromptText = templates.renderText(body, tokenizer.config);
      expect(wholeText(text)).toBe(templates.render(body, tokenizer.config));
      if (text instanceof TextParts) inParts++;
      const [whole] = await tokenizer.encode([wholeText(text)], false);
      for (const encoder of [tokenizers.whole, tokenizers.chunked]) {
        const ids = await readAll(await encoder.streamRequest(name, { api: 'chat_completions', body }, 64));
        expect([...ids], `conversation ${i}`).toEqual([...whole!]);
      }
    }
    // Most conversations have a long content, and these templates only concatenate, test or trim them.
    expect(inParts).toBeGreaterThan(40);
  });

  it('a long completion prompt in pieces gives the same ids (special tokens included)', async () => {
    const tokenizer = await tokenizers.whole.store.get(name);
    const next = seededRandom(99);
    for (let i = 0; i < 10; i++) {
      const prompt = randomText(next, 200);
      const body = validateBody('completions', { model: name, prompt }).body;
      attachRopes(body, [{ text: prompt, pieces: randomPieces(prompt, next, 50) }]);
      const ids = await readAll(await tokenizers.chunked.streamRequest(name, { api: 'completions', body } as never, 64));
      const [whole] = await tokenizer.encode([prompt], true);
      expect([...ids]).toEqual([...whole!]);
    }
  });
});

/** vLLM's content-format detection ("auto"), on the @huggingface/jinja AST. */
import { Template } from '@huggingface/jinja';
import { describe, expect, it } from 'vitest';
import { detectContentFormat } from '../../src/tokenization/content-format.js';

const format = (source: string): string => detectContentFormat(new Template(source).parsed);

describe('detectContentFormat', () => {
  it('is "string" when content is only printed or tested', () => {
    expect(format('{% for message in messages %}{{ message.content }}{% endfor %}')).toBe('string');
    expect(format("{% for m in messages[::-1] %}{% if m.content.startswith('<x>') %}{% endif %}{% endfor %}")).toBe('string');
    expect(format('{% for c in message.content %}{{ c }}{% endfor %}')).toBe('string'); // `message` is not from messages
  });

  it('is "openai" when a message loop iterates over its content', () => {
    expect(format("{% for m in messages %}{% for c in m['content'] %}{{ c.text }}{% endfor %}{% endfor %}")).toBe('openai');
    expect(format("{% for m in messages if m.role != 'system' %}{% for c in m.content %}{% endfor %}{% endfor %}")).toBe('openai');
  });

  it('follows aliases, slices and filters of messages and content', () => {
    const source =
      "{% set loop_messages = messages[1:] %}{% set rest = loop_messages %}{% for m in rest %}" +
      "{% for part in m.content | selectattr('type', 'equalto', 'text') %}{{ part.text }}{% endfor %}{% endfor %}";
    expect(format(source)).toBe('openai');
  });
});

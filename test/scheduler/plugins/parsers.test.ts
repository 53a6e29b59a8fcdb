/** requestHandler.parsers: resolution by longest suffix, the fallback, and start-up errors. */
import { describe, expect, it } from 'vitest';
import { loadEndpointPickerConfig } from '../../../scheduler/config/loader.js';
import { AnthropicParser } from '../../../scheduler/plugins/parsers/anthropic-parser.js';
import { OpenAiParser } from '../../../scheduler/plugins/parsers/openai-parser.js';
import { PassthroughParser } from '../../../scheduler/plugins/parsers/passthrough-parser.js';
import { resolveParser } from '../../../scheduler/plugins/parsers/request-parser.js';
import { createDefaultRegistry } from '../../../scheduler/plugins/index.js';
import { silentLogger } from '../helpers.js';

const load = (body: string) => loadEndpointPickerConfig(`apiVersion: llm-d.ai/v1alpha1\nkind: EndpointPickerConfig\n${body}`, {
  registry: createDefaultRegistry(), logger: silentLogger,
});

describe('request parsers', () => {
  it('resolves OpenAI paths to openai-parser and the rest to the passthrough fallback', () => {
    const openai = new OpenAiParser();
    const passthrough = new PassthroughParser();
    const parsers = [openai, passthrough];
    expect(resolveParser(parsers, '/v1/chat/completions')).toBe(openai);
    expect(resolveParser(parsers, '/v1/completions')).toBe(openai);
    expect(resolveParser(parsers, '/v1/messages')).toBe(passthrough);
    expect(resolveParser(parsers, '/generate')).toBe(passthrough);
    // Without a fallback an unclaimed path has no parser (refused).
    expect(resolveParser([openai], '/generate')).toBeUndefined();
    // Longest claim wins whatever the order.
    const anthropic = new AnthropicParser();
    expect(resolveParser([anthropic, openai], '/v1/messages/count_tokens')).toBe(anthropic);
    expect(resolveParser([openai, anthropic], '/v1/chat/completions/')).toBe(openai);
    // A fallback listed first takes every path.
    expect(resolveParser([passthrough, openai], '/v1/chat/completions')).toBe(passthrough);
  });

  it('defaults to openai + anthropic without a requestHandler section (no passthrough: unclaimed paths are refused)', async () => {
    const loaded = load('plugins: [{type: random-picker}]\n');
    expect(loaded.parsers.map((p) => p.type)).toEqual(['openai-parser', 'anthropic-parser']);
    await loaded.close();
  });

  it('builds the listed parsers in order', async () => {
    const loaded = load('plugins: [{type: random-picker}, {type: openai-parser}, {name: a, type: anthropic-parser}, {name: pt, type: passthrough-parser}]\nrequestHandler:\n  parsers: [{pluginRef: openai-parser}, {pluginRef: a}, {pluginRef: pt}]\n');
    expect(loaded.parsers.map((p) => `${p.name}:${p.type}`)).toEqual(['openai-parser:openai-parser', 'a:anthropic-parser', 'pt:passthrough-parser']);
    await loaded.close();
  });

  it('fails at start-up for unknown parsers, non-parsers and parser parameters', () => {
    expect(() => load('plugins: [{type: random-picker}]\nrequestHandler: {parsers: [{pluginRef: vllmgrpc-parser}]}\n'))
      .toThrow(/requestHandler\.parsers\[0\]\.pluginRef.*unknown plugin "vllmgrpc-parser"/);
    expect(() => load('plugins: [{type: random-picker}]\nrequestHandler: {parsers: [{pluginRef: random-picker}]}\n'))
      .toThrow(/is not a request parser/);
    expect(() => load('plugins: [{type: random-picker}, {type: vllmgrpc-parser}]\n')).toThrow(/unknown plugin type "vllmgrpc-parser"/);
    expect(() => load('plugins: [{type: random-picker}, {type: passthrough-parser, parameters: {x: 1}}]\n')).toThrow(/unknown parameter/);
    expect(() => load('plugins: [{type: random-picker}]\nrequestHandler: {parsers: [{pluginRef: p}], other: 1}\n')).toThrow(/other/);
  });
});

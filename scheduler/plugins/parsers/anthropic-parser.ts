/**
 * `anthropic-parser`: the Anthropic Messages API. Claims `/messages` and `/messages/count_tokens`
 * (by suffix, as llm-d Router). A Messages body is validated and read as its chat-completions
 * equivalent (src/openai/anthropic.ts), so user-input bytes, prefix hashing, tokenization and the
 * P/D deciders follow the chat rules; `count_tokens` bodies are forwarded unread (no generation,
 * nothing to gain from the prompt), as upstream.
 *
 * Parameters: none (anything given is an error).
 *
 * ```yaml
 * plugins: [{type: openai-parser}, {type: anthropic-parser}]
 * requestHandler: {parsers: [{pluginRef: openai-parser}, {pluginRef: anthropic-parser}]}
 * ```
 */
import { z } from 'zod';
import type { BodyBytes } from '../../../src/http/body-bytes.js';
import { apiForPathSuffix, parseApiBody, type ParsedApiBody } from '../../../src/openai/apis.js';
import { parseParameters, type PluginFactory } from '../../framework/registry.js';
import type { RequestParser } from './request-parser.js';

export const ANTHROPIC_PARSER_TYPE = 'anthropic-parser';

export class AnthropicParser implements RequestParser {
  readonly type = ANTHROPIC_PARSER_TYPE;
  readonly claims: readonly string[] = ['/messages', '/messages/count_tokens'];
  constructor(readonly name: string = ANTHROPIC_PARSER_TYPE) {}

  parse(path: string, raw: BodyBytes): ParsedApiBody | undefined {
    return apiForPathSuffix(path) === 'messages' ? parseApiBody('messages', raw) : undefined;
  }
}

export const anthropicParserFactory: PluginFactory = (name, parameters) => {
  parseParameters(z.object({}), parameters);
  return new AnthropicParser(name);
};

/** Registers the request-parser plugins (`requestHandler.parsers`) under their llm-d type strings. */
import type { PluginRegistry } from '../../framework/registry.js';
import { ANTHROPIC_PARSER_TYPE, anthropicParserFactory } from './anthropic-parser.js';
import { OPENAI_PARSER_TYPE, openAiParserFactory } from './openai-parser.js';
import { PASSTHROUGH_PARSER_TYPE, passthroughParserFactory } from './passthrough-parser.js';

export function registerParserPlugins(registry: PluginRegistry): PluginRegistry {
  return registry.register(OPENAI_PARSER_TYPE, openAiParserFactory)
    .register(ANTHROPIC_PARSER_TYPE, anthropicParserFactory)
    .register(PASSTHROUGH_PARSER_TYPE, passthroughParserFactory);
}

/**
 * `requestHandler.parsers` → the ordered request parsers (scheduler/plugins/parsers/). Each entry
 * must name a declared parser plugin; anything else fails loading at `requestHandler.parsers[i]`.
 * With no section the list is `openai-parser`, `anthropic-parser`: a POST to a path neither claims
 * is refused (400 naming the path).
 *
 * Deliberate difference from llm-d Router, whose default ends with a `passthrough-parser` (and has a
 * `vllmhttp-parser` pd-router does not have): forwarding every unclaimed POST would let any client
 * of the built-in gateway reach a model server's other POST routes (adapter loading, cache reset,
 * sleep, profiling, …). Declare a `passthrough-parser` last to get upstream's behaviour.
 */
import type { Logger } from '../../src/log.js';
import type { Plugin } from '../framework/plugins.js';
import { AnthropicParser } from '../plugins/parsers/anthropic-parser.js';
import { OpenAiParser } from '../plugins/parsers/openai-parser.js';
import { isRequestParser, type RequestParser } from '../plugins/parsers/request-parser.js';
import type { EndpointPickerConfig } from './schema.js';
import type { ConfigSource } from './source.js';

export function buildParsers(config: EndpointPickerConfig, source: ConfigSource, lookup: (name: string) => Plugin | undefined, logger: Logger): RequestParser[] {
  const refs = config.requestHandler?.parsers ?? [];
  if (refs.length === 0) return defaultParsers();
  const parsers: RequestParser[] = [];
  refs.forEach((ref, i) => {
    const at = ['requestHandler', 'parsers', i, 'pluginRef'] as const;
    const plugin = lookup(ref.pluginRef);
    if (!plugin) throw source.error([...at], `unknown plugin "${ref.pluginRef}"`);
    if (!isRequestParser(plugin)) throw source.error([...at], `plugin "${ref.pluginRef}" (type ${plugin.type}) is not a request parser (known: openai-parser, anthropic-parser, passthrough-parser)`);
    if (parsers.includes(plugin)) throw source.error([...at], `parser "${ref.pluginRef}" is listed twice`);
    const fallback = parsers.find((earlier) => earlier.claims.length === 0);
    if (fallback) logger.warn({ parser: plugin.name, fallback: fallback.name }, `requestHandler.parsers[${i}] is never used: "${fallback.name}" before it claims every path`);
    parsers.push(plugin);
  });
  return parsers;
}

/** The parser list without a `requestHandler.parsers` section (also the front doors' default). */
export function defaultParsers(): RequestParser[] {
  return [new OpenAiParser(), new AnthropicParser()];
}

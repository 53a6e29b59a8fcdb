/**
 * `passthrough-parser`: forwards any request without reading its body. It claims no paths, so it is
 * the fallback for paths no earlier parser claims (list it last).
 *
 * What works for a request it takes: filters and scorers that use only endpoint state (queue,
 * KV-cache utilization, active requests, session affinity from headers, labels, pickers); the body
 * is forwarded byte for byte. What does not: anything derived from the prompt — prefix-cache
 * match info is empty (every endpoint scores 0), token counts are 0, and P/D deciders see no prompt
 * (so they keep the request on the decode endpoint).
 *
 * Parameters: none (anything given is an error).
 *
 * ```yaml
 * plugins: [{type: passthrough-parser}]
 * requestHandler: {parsers: [{pluginRef: passthrough-parser}]}
 * ```
 */
import { z } from 'zod';
import type { ParsedApiBody } from '../../../src/openai/apis.js';
import { parseParameters, type PluginFactory } from '../../framework/registry.js';
import type { RequestParser } from './request-parser.js';

export const PASSTHROUGH_PARSER_TYPE = 'passthrough-parser';

export class PassthroughParser implements RequestParser {
  readonly type = PASSTHROUGH_PARSER_TYPE;
  readonly claims: readonly string[] = [];
  constructor(readonly name: string = PASSTHROUGH_PARSER_TYPE) {}

  parse(): ParsedApiBody | undefined {
    return undefined;
  }
}

export const passthroughParserFactory: PluginFactory = (name, parameters) => {
  parseParameters(z.object({}), parameters);
  return new PassthroughParser(name);
};

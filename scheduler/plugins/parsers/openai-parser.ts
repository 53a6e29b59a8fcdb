/**
 * `openai-parser`: requests on the OpenAI paths (`/v1/completions`, `/v1/chat/completions`,
 * `/v1/responses`) have their JSON body parsed and validated (src/openai/parse.ts), so every
 * payload-aware plugin (prefix caching, token counts, P/D deciders) sees the prompt. It is the
 * parser used when the config has no `requestHandler` section.
 *
 * Parameters: none (anything given is an error).
 *
 * ```yaml
 * plugins: [{type: openai-parser}]
 * requestHandler: {parsers: [{pluginRef: openai-parser}]}
 * ```
 */
import { z } from 'zod';
import { parseParameters, type PluginFactory } from '../../framework/registry.js';
import type { RequestParser } from './request-parser.js';

export const OPENAI_PARSER_TYPE = 'openai-parser';
/** The paths pd-router parses as OpenAI APIs (src/openai/types.ts `apiForPath`). */
export const OPENAI_PATHS = ['/v1/completions', '/v1/chat/completions', '/v1/responses'] as const;

export class OpenAiParser implements RequestParser {
  readonly type = OPENAI_PARSER_TYPE;
  readonly parseMode = 'openai' as const;
  readonly claims: readonly string[] = OPENAI_PATHS;
  constructor(readonly name: string = OPENAI_PARSER_TYPE) {}
}

export const openAiParserFactory: PluginFactory = (name, parameters) => {
  parseParameters(z.object({}), parameters);
  return new OpenAiParser(name);
};

/**
 * `openai-parser`: claims the OpenAI paths llm-d Router's parser claims (by suffix:
 * `/chat/completions`, `/completions`, `/responses`, `/embeddings`, `/conversations`, the two
 * `/render` paths, `/images/generations`). Bodies of the three generation APIs are parsed and
 * validated (src/openai/apis.ts), so every payload-aware plugin (prefix caching, token counts,
 * P/D deciders) sees the prompt; the other claimed paths are forwarded unread and scheduled
 * without a prompt (llm-d Router parses embeddings too; pd-router has no model of them).
 *
 * Parameters: none (anything given is an error).
 *
 * ```yaml
 * plugins: [{type: openai-parser}]
 * requestHandler: {parsers: [{pluginRef: openai-parser}]}
 * ```
 */
import { z } from 'zod';
import type { BodyBytes } from '../../../src/http/body-bytes.js';
import { apiForPathSuffix, parseApiBody, type ParsedApiBody } from '../../../src/openai/apis.js';
import { parseParameters, type PluginFactory } from '../../framework/registry.js';
import type { RequestParser } from './request-parser.js';

export const OPENAI_PARSER_TYPE = 'openai-parser';

const CLAIMS = [
  '/chat/completions', '/completions', '/responses', '/embeddings', '/conversations',
  '/chat/completions/render', '/completions/render', '/images/generations',
] as const;

export class OpenAiParser implements RequestParser {
  readonly type = OPENAI_PARSER_TYPE;
  readonly claims: readonly string[] = CLAIMS;
  constructor(readonly name: string = OPENAI_PARSER_TYPE) {}

  parse(path: string, raw: BodyBytes): ParsedApiBody | undefined {
    const api = apiForPathSuffix(path);
    return api === undefined || api === 'messages' ? undefined : parseApiBody(api, raw);
  }
}

export const openAiParserFactory: PluginFactory = (name, parameters) => {
  parseParameters(z.object({}), parameters);
  return new OpenAiParser(name);
};

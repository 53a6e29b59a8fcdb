/**
 * The request-parser kind (llm-d `requestHandler.parsers`): which paths a parser claims and how it
 * reads a body. The front doors ask `resolveParser` which parser a request path gets
 * (scheduler/frontdoor/request.ts), then let it read the body.
 *
 * Resolution (as llm-d Router): the longest claimed path suffix wins; a parser that claims no paths
 * is the fallback for everything else, and parsers listed after the first fallback are never
 * reached (the loader warns). With no fallback, a path no parser claims is refused (400, as
 * llm-d Router's "no parser registered matching path suffix").
 */
import type { BodyBytes } from '../../../src/http/body-bytes.js';
import { suffixPath, type ParsedApiBody } from '../../../src/openai/apis.js';
import type { Plugin } from '../../framework/plugins.js';

export interface RequestParser extends Plugin {
  /** Path suffixes claimed (each starting with `/`); empty = the fallback for any path. */
  readonly claims: readonly string[];
  /**
   * Reads the body of a request on `path` (query already dropped): its parsed view, or undefined
   * to forward it unread (scheduled without a prompt). Throws a 400 OpenAIError when invalid.
   */
  parse(path: string, raw: BodyBytes): ParsedApiBody | undefined;
}

export const isRequestParser = (plugin: Plugin): plugin is RequestParser =>
  typeof (plugin as Partial<RequestParser>).parse === 'function' && Array.isArray((plugin as Partial<RequestParser>).claims);

/** The parser for `path` among `parsers` (config order), or undefined when none claims it. */
export function resolveParser(parsers: readonly RequestParser[], path: string): RequestParser | undefined {
  const bare = suffixPath(path);
  let best: RequestParser | undefined;
  let bestLength = -1;
  for (const parser of parsers) {
    if (parser.claims.length === 0) return best ?? parser;
    for (const suffix of parser.claims) {
      if (bare.endsWith(suffix) && suffix.length > bestLength) {
        best = parser;
        bestLength = suffix.length;
      }
    }
  }
  return best;
}

/**
 * The request-parser kind (llm-d `requestHandler.parsers`): which paths a parser claims and whether
 * it reads the body. The front doors ask `resolveParser` which parser a request path gets.
 *
 * Resolution (as llm-d Router): the longest claimed path suffix wins; a parser that claims no paths
 * is the fallback for everything else, and parsers listed after the first fallback are never
 * reached (the loader warns). With no fallback, a path no parser claims is refused (404).
 */
import type { Plugin } from '../../framework/plugins.js';

/** `openai`: the body is parsed (model, prompt, user-input bytes); `passthrough`: it is not read. */
export type ParseMode = 'openai' | 'passthrough';

export interface RequestParser extends Plugin {
  readonly parseMode: ParseMode;
  /** Path suffixes claimed; empty = the fallback for any path. */
  readonly claims: readonly string[];
}

export const isRequestParser = (plugin: Plugin): plugin is RequestParser =>
  typeof (plugin as Partial<RequestParser>).parseMode === 'string' && Array.isArray((plugin as Partial<RequestParser>).claims);

/** The parser for `path` among `parsers` (config order), or undefined when none claims it. */
export function resolveParser(parsers: readonly RequestParser[], path: string): RequestParser | undefined {
  let best: RequestParser | undefined;
  let bestLength = -1;
  for (const parser of parsers) {
    if (parser.claims.length === 0) return best ?? parser;
    for (const suffix of parser.claims) {
      if (path.endsWith(suffix) && suffix.length > bestLength) {
        best = parser;
        bestLength = suffix.length;
      }
    }
  }
  return best;
}

/**
 * From a request's path and body bytes to the one InferenceRequest, the same for both front doors
 * (llm-d `requestHandler.parsers`):
 *
 * 1. the parser list picks the parser by path suffix (`resolveParser`: longest claim, else the
 *    fallback); a path no parser claims is a **400** naming the path (llm-d Router's answer);
 * 2. the parser reads the body: a parsed view (OpenAI paths, `/v1/messages`; invalid → 400), or
 *    nothing — the request is then `unparsed` and scheduled without a prompt.
 *
 * The body-size limit and the body timeout are the front door's, before this runs.
 */
import type { BodyBytes } from '../../src/http/body-bytes.js';
import { OpenAIError } from '../../src/openai/errors.js';
import { createInferenceRequest, type InferenceRequest } from '../framework/request.js';
import { resolveParser, type RequestParser } from '../plugins/parsers/request-parser.js';

export interface RequestInput {
  id: string;
  /** The request path without its query string. */
  path: string;
  headers: Map<string, string>;
  rawBody: BodyBytes;
  /** `x-gateway-model-name-rewrite`, when set. */
  targetModel?: string;
}

/** The parser for `path`, or the 400 a path no parser claims gets. */
export function parserFor(parsers: readonly RequestParser[], path: string): RequestParser {
  const parser = resolveParser(parsers, path);
  if (!parser) throw new OpenAIError(400, `no parser registered matching path suffix for: ${path}`, { param: 'path' });
  return parser;
}

export function readInferenceRequest(parsers: readonly RequestParser[], input: RequestInput): InferenceRequest {
  const parsed = parserFor(parsers, input.path).parse(input.path, input.rawBody);
  return createInferenceRequest({ ...input, body: parsed?.body, api: parsed?.api });
}

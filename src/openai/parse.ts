/**
 * Parse an OpenAI request body once: bytes → JSON → validated, typed structure. Failures become
 * 400 OpenAIErrors naming the offending field, in the words a client can act on.
 */
import type { z } from 'zod';
import { BodyBytes } from '../http/body-bytes.js';
import { OpenAIError } from './errors.js';
import { parseJsonPieces } from './piecewise-json.js';
import { attachRopes, carryRopes, type Rope } from './ropes.js';
import * as schema from './schema.js';
import type { ApiKind, InferenceBody } from './types.js';

/** A request body as text, as bytes, or as the chunks it arrived in. */
export type RawBody = string | Uint8Array | BodyBytes;

/**
 * Bodies from this size are parsed piecewise (piecewise-json.ts: no string as large as the body);
 * a smaller body's strings stay well under V8's 128 KB large-object size anyway.
 */
const PIECEWISE_FROM = 32 * 1024;

function parseJson(raw: RawBody, ropes: Rope[]): unknown {
  if (typeof raw === 'string') return JSON.parse(raw);
  if (raw instanceof BodyBytes) return raw.length >= PIECEWISE_FROM ? parseJsonPieces(raw.chunks(), { ropes }) : JSON.parse(raw.text());
  return JSON.parse(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8'));
}

/**
 * JSON.parse that requires a top-level object; 400 otherwise. Long string values decoded in
 * pieces are recorded for the object (ropes.ts).
 */
export function parseJsonObject(raw: RawBody): Record<string, unknown> {
  let value: unknown;
  const ropes: Rope[] = [];
  try {
    value = parseJson(raw, ropes);
  } catch (err) {
    throw new OpenAIError(400, `request body is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new OpenAIError(400, 'request body must be a JSON object');
  }
  attachRopes(value, ropes);
  return value as Record<string, unknown>;
}

const schemas = {
  completions: schema.CompletionsBody,
  chat_completions: schema.ChatCompletionsBody,
  responses: schema.ResponsesBody,
} as const;

/** The JSON type name of a value, as a client would say it. */
function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let value = root;
  for (const part of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[part];
  }
  return value;
}

/** What was wrong, in words: a missing field, the types a field accepts and the type it got, … */
function describeIssue(issue: z.core.$ZodIssue, root: unknown): string {
  const value = valueAt(root, issue.path);
  if (issue.code === 'invalid_type' || issue.code === 'invalid_union') {
    if (value === undefined) return 'required field is missing';
    const expected = issue.code === 'invalid_type'
      ? [issue.expected]
      : [...new Set(issue.errors.flat().filter((i) => i.code === 'invalid_type' && i.path.length === 0).map((i) => (i as { expected: string }).expected))];
    if (expected.length > 0) return `expected ${expected.join(' or ')}, got ${jsonType(value)}`;
  }
  if (issue.code === 'too_small' && Array.isArray(value) && value.length === 0) return 'must not be empty';
  return issue.message;
}

function formatIssue(issue: z.core.$ZodIssue, root: unknown): { message: string; param: string | null } {
  const path = issue.path
    .map((part, i) => (typeof part === 'number' ? `[${part}]` : i === 0 ? String(part) : `.${String(part)}`))
    .join('');
  const message = describeIssue(issue, root);
  return { message: path ? `${path}: ${message}` : message, param: path || null };
}

/** Validates an already JSON-parsed object as the body of `api`. */
export function validateBody(api: ApiKind, value: Record<string, unknown>): InferenceBody {
  const result = schemas[api].safeParse(value);
  if (!result.success) {
    const first = result.error.issues[0];
    const { message, param } = first ? formatIssue(first, value) : { message: 'invalid request body', param: null };
    throw new OpenAIError(400, `invalid request body: ${message}`, { param });
  }
  carryRopes(value, result.data);
  return { api, body: result.data } as InferenceBody;
}

/** Bytes → typed body. */
export function parseInferenceBody(api: ApiKind, raw: RawBody): InferenceBody {
  return validateBody(api, parseJsonObject(raw));
}

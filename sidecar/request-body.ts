/**
 * The body of a P/D route, read once and checked before any leg is sent:
 *
 * - at most `--max-body-bytes` (413 past it; a broken upload is 400);
 * - valid UTF-8 (400 otherwise): every leg edits the body as text, so bytes that are not text
 *   would be silently replaced — the same rule holds whether or not a prefill happens;
 * - a JSON object (400 otherwise);
 * - a client `kv_transfer_params` is removed unless `--trust-client-kv-transfer-params`: it
 *   steers vLLM's KV connector (remote hosts, block ids) and only the sidecar may set it.
 *
 * Everything else stays byte-exact: an unchanged body is forwarded as the bytes received.
 */
import type { IncomingMessage } from 'node:http';
import { readBody } from '../src/http/body.js';
import { OpenAIError } from '../src/openai/errors.js';
import { parseJsonObject } from '../src/openai/parse.js';
import { patchMembers } from '../src/openai/raw-json.js';

export const KV_TRANSFER_PARAMS = 'kv_transfer_params';

export interface InferenceBody {
  readonly body: Buffer;
  readonly text: string;
  readonly json: Record<string, unknown>;
}

export type BodyResult = { kind: 'ok'; value: InferenceBody } | { kind: 'error'; error: OpenAIError };

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function checkInferenceBody(body: Buffer, trustKvTransferParams: boolean): BodyResult {
  let text: string;
  try {
    text = UTF8.decode(body);
  } catch {
    return { kind: 'error', error: new OpenAIError(400, 'request body is not valid UTF-8', { type: 'BadRequestError' }) };
  }
  let json: Record<string, unknown>;
  try {
    json = parseJsonObject(text);
  } catch (err) {
    return { kind: 'error', error: err as OpenAIError };
  }
  if (trustKvTransferParams || !Object.hasOwn(json, KV_TRANSFER_PARAMS)) return { kind: 'ok', value: { body, text, json } };
  const stripped = patchMembers(text, { [KV_TRANSFER_PARAMS]: undefined });
  const { [KV_TRANSFER_PARAMS]: _dropped, ...rest } = json;
  return { kind: 'ok', value: { body: Buffer.from(stripped), text: stripped, json: rest } };
}

export async function readInferenceBody(req: IncomingMessage, limit: number, trustKvTransferParams: boolean): Promise<BodyResult> {
  let body: Buffer;
  try {
    body = await readBody(req, limit, req.headers['content-length']);
  } catch (err) {
    if (err instanceof OpenAIError) return { kind: 'error', error: err };
    return { kind: 'error', error: new OpenAIError(400, `request body could not be read: ${(err as Error).message}`, { type: 'BadRequestError' }) };
  }
  return checkInferenceBody(body, trustKvTransferParams);
}

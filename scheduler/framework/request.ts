/**
 * The one typed request object inside the EPP. The body is parsed exactly once by the front door;
 * plugins read `body` (structured) and never re-parse `rawBody`. `headers` is the EPP's header map:
 * PreRequest plugins set and delete routing headers here and the front door applies the result.
 */
import type { InferenceBody } from '../../src/openai/types.js';
import { userInputBytes } from '../../src/openai/input-bytes.js';

export interface InferenceRequest {
  /** `x-request-id` (generated when absent). */
  readonly id: string;
  /** `model` as the client sent it. */
  readonly model: string;
  /** Model after `x-gateway-model-name-rewrite`; what scheduling and the upstream see. */
  targetModel: string;
  readonly path: string;
  /** Lower-case header names; single values. */
  readonly headers: Map<string, string>;
  readonly body: InferenceBody;
  readonly rawBody: Buffer;
  /** UTF-8 bytes of the user input (see docs/configuration.md); computed once on first use. */
  userInputBytes(): number;
}

export function createInferenceRequest(init: {
  id: string;
  path: string;
  headers: Map<string, string>;
  body: InferenceBody;
  rawBody: Buffer;
  targetModel?: string;
}): InferenceRequest {
  let inputBytes: number | undefined;
  return {
    id: init.id,
    model: init.body.body.model,
    targetModel: init.targetModel ?? init.body.body.model,
    path: init.path,
    headers: init.headers,
    body: init.body,
    rawBody: init.rawBody,
    userInputBytes() {
      inputBytes ??= userInputBytes(init.body);
      return inputBytes;
    },
  };
}

/**
 * The one typed request object inside the EPP. The body is parsed exactly once by the front door;
 * plugins read `body` (structured) and never re-parse `rawBody`. `headers` is the EPP's header map:
 * PreRequest plugins set and delete routing headers here and the front door applies the result.
 *
 * A request its parser did not read (`passthrough-parser`, or a claimed path pd-router has no
 * model of) is `unparsed`: its `body` is an empty completions body (no model, empty prompt), so
 * every payload-aware plugin sees no prompt — prefix match 0, token counts 0 — and the P/D
 * profile handlers keep it decode-only (`reason: unparsed`).
 */
import type { BodyBytes } from '../../src/http/body-bytes.js';
import type { InferenceApi } from '../../src/openai/apis.js';
import type { InferenceBody } from '../../src/openai/types.js';
import { userInputBytes } from '../../src/openai/input-bytes.js';

export interface InferenceRequest {
  /** `x-request-id` (generated when absent). */
  readonly id: string;
  /** `model` as the client sent it ('' when unparsed). */
  readonly model: string;
  /** Model after `x-gateway-model-name-rewrite`; what scheduling and the upstream see. */
  targetModel: string;
  readonly path: string;
  /** The API the path speaks; undefined when unparsed. */
  readonly api: InferenceApi | undefined;
  /** True when the body was not read (see above). */
  readonly unparsed: boolean;
  /** Lower-case header names; single values. */
  readonly headers: Map<string, string>;
  /** The OpenAI view of the body (a Messages body as its chat equivalent). */
  readonly body: InferenceBody;
  /** The body's bytes as received (src/http/body-bytes.ts). */
  readonly rawBody: BodyBytes;
  /** UTF-8 bytes of the user input (see docs/configuration.md); computed once on first use. */
  userInputBytes(): number;
}

const UNPARSED_BODY: InferenceBody = Object.freeze({ api: 'completions', body: Object.freeze({ model: '', prompt: '' }) });

export function createInferenceRequest(init: {
  id: string;
  path: string;
  headers: Map<string, string>;
  /** The parsed body and its API; undefined for an unparsed request. */
  body: InferenceBody | undefined;
  api?: InferenceApi;
  rawBody: BodyBytes;
  targetModel?: string;
}): InferenceRequest {
  let inputBytes: number | undefined;
  const body = init.body ?? UNPARSED_BODY;
  return {
    id: init.id,
    model: body.body.model,
    targetModel: init.targetModel ?? body.body.model,
    path: init.path,
    api: init.body ? init.api ?? body.api : undefined,
    unparsed: init.body === undefined,
    headers: init.headers,
    body,
    rawBody: init.rawBody,
    userInputBytes() {
      inputBytes ??= userInputBytes(body);
      return inputBytes;
    },
  };
}

/**
 * The request body the EPP forwards: the client's bytes, with at most two top-level members
 * edited as text (every other member keeps its exact bytes):
 *
 * - `model` is rewritten when `x-gateway-model-name-rewrite` chose another target model;
 * - `kv_transfer_params` is removed. It tells vLLM where to pull KV blocks from (or to export
 *   them); only the sidecar may set it, since a client-chosen value could point a decode pod at
 *   an address of the client's choosing. `--trust-client-kv-transfer-params`
 *   (`EPP_TRUST_CLIENT_KV_TRANSFER_PARAMS`, off by default) keeps it, for callers that are
 *   themselves a trusted P/D coordinator.
 *
 * An unparsed request (passthrough parser) is forwarded exactly as received: its body was not
 * read, so neither edit applies (a sidecar still drops a client's `kv_transfer_params` itself).
 */
import { BodyBytes } from '../../src/http/body-bytes.js';
import { patchMembers } from '../../src/openai/raw-json.js';
import type { InferenceRequest } from '../framework/request.js';

export const KV_TRANSFER_PARAMS = 'kv_transfer_params';

export interface BodyPolicy {
  /** Keep a client's `kv_transfer_params` (default false: removed). */
  trustClientKvTransferParams: boolean;
}

export function forwardedBody(request: InferenceRequest, policy: BodyPolicy): BodyBytes {
  if (request.unparsed) return request.rawBody;
  const changes: Record<string, string | undefined> = {};
  if (request.targetModel !== request.model) changes.model = JSON.stringify(request.targetModel);
  if (!policy.trustClientKvTransferParams && Object.hasOwn(request.body.body, KV_TRANSFER_PARAMS)) changes[KV_TRANSFER_PARAMS] = undefined;
  if (Object.keys(changes).length === 0) return request.rawBody;
  return BodyBytes.of(Buffer.from(patchMembers(request.rawBody.text(), changes), 'utf8'));
}

/**
 * nixlv2 (vLLM NixlConnector), the default connector:
 *
 * 1. Prefill leg: the client body plus `kv_transfer_params` asking for a remote decode (the six
 *    fields, overwriting any client value), `stream:false` without `stream_options`, every token
 *    field of the API set to 1, `min_tokens` dropped; a fresh `x-request-id` added.
 * 2. 400–451 → relayed as-is. Other failures → retries, then the failure policy (prefill.ts).
 * 3. Decode leg: the client's original body — so `stream`, `stream_options` and the token fields
 *    are exactly what the client sent — plus the prefill's `kv_transfer_params` copied verbatim as
 *    raw JSON text (never re-serialised: unknown keys, big integers and key order survive), the
 *    same `x-request-id`, and the cached-token rewriter on the answer (OpenAI APIs only: a
 *    Messages answer has no `prompt_tokens_details`); `ec_transfer_params` (EPD)
 *    stays on the prefill leg only (#1704). Chunked decode applies when configured.
 */
import { patchMembers, rawMember } from '../../src/openai/raw-json.js';
import { cachedTokensOf } from '../cached-tokens.js';
import { dispatchDecode } from '../decode-leg.js';
import { dataParallelDecoder, legHeaders, targetLabel, type PdExchange, type PrefillExchange } from '../exchange.js';
import { sendEmpty, sendError } from '../respond.js';
import { EC_TRANSFER_PARAMS, capTokens, invalidPrefillAnswer, prefillOrHandle, withoutEcTransferParams } from './common.js';

/** What vLLM's NixlConnector expects on a prefill that will be decoded elsewhere. */
export const PREFILL_KV_TRANSFER_PARAMS =
  '{"do_remote_decode":true,"do_remote_prefill":false,"remote_engine_id":null,"remote_block_ids":null,"remote_host":null,"remote_port":null}';

export function nixlPrefillBody(text: string, api: PdExchange['api']): string {
  return patchMembers(text, {
    ...capTokens(api),
    kv_transfer_params: PREFILL_KV_TRANSFER_PARAMS,
    stream: 'false',
    stream_options: undefined,
  });
}

export async function runNixlV2(ex: PrefillExchange): Promise<void> {
  const { rt, requestId } = ex;
  const prefill = await prefillOrHandle(ex, {
    connector: 'nixlv2',
    body: nixlPrefillBody(ex.text, ex.api),
    relayHeaders: true,
    fallbackBody: withoutEcTransferParams(ex),
  });
  if (!prefill) return;

  const answer = prefill.response.body.toString('utf8');
  let document: unknown;
  try {
    document = JSON.parse(answer);
  } catch (err) {
    sendError(ex.res, invalidPrefillAnswer((err as Error).message));
    return;
  }
  // Upstream panics on a literal `null`; any non-object answer is a bad prefill response.
  if (document === null || typeof document !== 'object' || Array.isArray(document)) {
    sendError(ex.res, invalidPrefillAnswer(answer.slice(0, 64)));
    return;
  }
  let kvTransferParams = rawMember(answer, 'kv_transfer_params');
  if (kvTransferParams === undefined) {
    rt.logger.warn({ requestId, target: targetLabel(ex.target) }, "warning: missing 'kv_transfer_params' field in prefiller response");
    kvTransferParams = 'null';
  }

  const dp = dataParallelDecoder(rt, ex.role, ex.req);
  if (dp.kind === 'unknown') {
    sendEmpty(ex.res, 400);
    return;
  }
  // DP routing, else dispatch-decode (chunked decode when configured).
  await dispatchDecode(ex, {
    connector: 'nixlv2',
    decoder: dp.kind === 'rank' ? dp.decoder : ex.role.decoder,
    dataParallel: dp.kind === 'rank',
    body: patchMembers(ex.text, { kv_transfer_params: kvTransferParams, [EC_TRANSFER_PARAMS]: undefined }),
    headers: legHeaders(ex.headers, requestId, false),
    requestId,
    cachedTokens: ex.api === 'messages' ? undefined : cachedTokensOf(document),
    prefillStartedAt: prefill.startedAt,
    prefillEndedAt: prefill.endedAt,
  });
}

/**
 * sglang: both legs get the same body — the client's plus `bootstrap_host`, `bootstrap_port` and
 * `bootstrap_room` — and run concurrently. The decode answer is the client's answer; the prefill
 * is detached from the client (llm-d #632: cancelling it crashed SGLang) and only logged/traced.
 *
 * `bootstrap_room` is UnixNano + rand[0,1000), about 1.8e18 — beyond 2^53 — so it is a BigInt
 * spliced into the JSON as raw digits and stays exact on the wire.
 */
import { patchMembers } from '../../src/openai/raw-json.js';
import { runDecode } from '../decode.js';
import { legHeaders, targetLabel, type PrefillExchange } from '../exchange.js';
import { sendPrefill } from '../prefill.js';
import type { RandomSource } from '../prefill-target.js';
import { badGateway, sendError } from '../respond.js';
import { ATTR, setError } from '../tracing.js';
import { EC_TRANSFER_PARAMS, startPrefillSpan } from './common.js';

export function bootstrapRoom(random: RandomSource): bigint {
  const unixNano = BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n);
  return unixNano + BigInt(Math.floor(random() * 1000));
}

/** `host` is the parsed prefill target's host (no brackets, no port): what SGLang's decoder dials. */
export function sglangBody(text: string, host: string, port: number, room: bigint): string {
  return patchMembers(text, {
    bootstrap_host: JSON.stringify(host),
    bootstrap_port: String(port),
    bootstrap_room: room.toString(),
  });
}

export async function runSglang(ex: PrefillExchange): Promise<void> {
  const { rt } = ex;
  const target = targetLabel(ex.target);
  const body = sglangBody(ex.text, ex.target.host, rt.config.sglangBootstrapPort, bootstrapRoom(rt.random));
  const span = startPrefillSpan(ex, 'sglang');
  span?.span.setAttribute(ATTR.prefillAsync, true);
  let upstream;
  try {
    upstream = rt.prefillUpstream(ex.target);
  } catch (err) {
    setError(span, (err as Error).message);
    span?.span.end();
    sendError(ex.res, badGateway(`invalid prefill target ${target}: ${(err as Error).message}`, err));
    return;
  }
  // Not the client's signal: the prefill outlives a client that leaves; --prefill-timeout and
  // shutdown bound it.
  const prefill = sendPrefill(
    { target, upstream, path: ex.url, headers: legHeaders(ex.headers, ex.requestId, true), body },
    rt.prefillPolicy,
    { logger: rt.logger, requestId: ex.requestId, span, signal: rt.detachedSignal, metrics: rt.metrics },
  ).then(
    (outcome) => rt.logger.debug({ requestId: ex.requestId, target, outcome: outcome.kind, status: 'response' in outcome ? outcome.response?.status : undefined }, 'prefill request completed'),
    (err: unknown) => rt.logger.error({ err, requestId: ex.requestId, target }, 'prefill request failed'),
  ).finally(() => span?.span.end());
  rt.track(prefill);

  await runDecode(ex, {
    connector: 'sglang',
    decoder: ex.role.decoder,
    // Same body as the prefill, minus the EPD-only field when present (#1704).
    body: Object.hasOwn(ex.json, EC_TRANSFER_PARAMS) ? patchMembers(body, { [EC_TRANSFER_PARAMS]: undefined }) : body,
    headers: legHeaders(ex.headers, ex.requestId, false),
    attributes: { [ATTR.decodeConcurrentWithPrefill]: true, [ATTR.concurrentPd]: true },
  });
}

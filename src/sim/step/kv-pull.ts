/**
 * P/D block release across processes (docs/simulator.md "Step engine / P/D"). A prefill-role step
 * sim holds a finished prompt's blocks until a decode pod pulls them. Its answer's
 * `kv_transfer_params` say where they are, as vLLM's NixlConnector does: `remote_engine_id` (this
 * sim), `remote_request_id`, `remote_block_ids` (the blocks held), `remote_host`/`remote_port` (this
 * sim's HTTP listener). The sidecar copies them verbatim into the decode leg. When the decode-role
 * step sim has "read" the blocks (its transfer is done), it tells the prefill sim, as NIXL's read
 * completion notifies the producer: `POST /kv_transfer/pull {"engine_id","request_id"}` on
 * `remote_host:remote_port`. The prefill sim frees the blocks (404 when it holds none under that
 * engine id and request id); blocks nobody pulls are freed after `--kv-transfer-timeout`.
 *
 * The decode side dials only a strictly parsed `host:port` (src/wire/host-port.ts), one fixed path,
 * with a short timeout, and ignores the answer: a failed notice only leaves the blocks to the
 * timeout. Parameters that do not name a step sim (the latency engine's dummies) send nothing.
 */
import { z } from 'zod';
import { originOf, parseHostPort, type HostPort } from '../../wire/host-port.js';
import { isValidRequestId } from '../../wire/request-id.js';
import type { Logger } from '../../log.js';

export const KV_PULL_PATH = '/kv_transfer/pull';
/** A pull notice gives up after this (the prefill pod's timeout frees the blocks then). */
export const KV_PULL_TIMEOUT_MS = 2_000;
/** Largest pull notice body accepted, bytes. */
export const KV_PULL_BODY_LIMIT = 1024;

export interface PullTarget {
  readonly origin: HostPort;
  readonly engineId: string;
  readonly requestId: string;
}

export interface PrefillLocation {
  engineId: string;
  requestId: string;
  host: string;
  port: number;
  blockIds: readonly number[];
  tensorParallelSize: number;
}

/** The `kv_transfer_params` of a step sim's prefill answer (NixlConnector's members, real values). */
export function prefillKvTransferParams(at: PrefillLocation): Record<string, unknown> {
  return {
    do_remote_decode: false,
    do_remote_prefill: true,
    remote_engine_id: at.engineId,
    remote_block_ids: at.blockIds,
    remote_host: at.host,
    remote_port: at.port,
    remote_request_id: at.requestId,
    tp_size: at.tensorParallelSize,
  };
}

const ENGINE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Where a decode leg's blocks come from, or undefined when the parameters name no pullable sim. */
export function pullTargetOf(params: Record<string, unknown> | null | undefined): PullTarget | undefined {
  if (!params || params.do_remote_prefill !== true) return undefined;
  const { remote_host: host, remote_port: port, remote_engine_id: engineId, remote_request_id: requestId } = params;
  if (typeof host !== 'string' || typeof port !== 'number' || !Number.isInteger(port)) return undefined;
  if (typeof engineId !== 'string' || !ENGINE_ID.test(engineId)) return undefined;
  if (typeof requestId !== 'string' || !isValidRequestId(requestId)) return undefined;
  const origin = parseHostPort(host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);
  return origin ? { origin, engineId, requestId } : undefined;
}

/** Tells the prefill sim its blocks were read. Never throws; `signal` ends it early (shutdown). */
export async function sendPull(target: PullTarget, signal: AbortSignal, logger?: Logger): Promise<boolean> {
  try {
    const response = await fetch(`${originOf(target.origin)}${KV_PULL_PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ engine_id: target.engineId, request_id: target.requestId }),
      signal: AbortSignal.any([signal, AbortSignal.timeout(KV_PULL_TIMEOUT_MS)]),
    });
    await response.body?.cancel();
    if (!response.ok) logger?.debug({ requestId: target.requestId, status: response.status }, 'KV pull notice refused');
    return response.ok;
  } catch (err) {
    logger?.debug({ requestId: target.requestId, err }, 'KV pull notice failed; the prefill pod frees the blocks at its timeout');
    return false;
  }
}

/** The body of a pull notice, strictly. */
export const PullNotice = z.strictObject({
  engine_id: z.string().regex(ENGINE_ID),
  request_id: z.string().refine(isValidRequestId),
});

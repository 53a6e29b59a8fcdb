/**
 * EPD with `--ec-connector=ec-example`: before P/D, every multimodal item of the
 * request is sent to an encoder pod so its encoder cache is primed; the prefill (or decode) pod
 * then finds the embeddings instead of computing them.
 *
 * 1. Items are the `messages[].content[]` parts of type image_url, audio_url or input_audio,
 *    de-duplicated by URL (inline audio has none, so it is never de-duplicated).
 * 2. Item i goes to `encoders[i % n]` as its own `POST /v1/chat/completions`, all in parallel:
 *    the client body (a shallow copy, other fields byte-for-byte) with one single-item user
 *    message, `max_tokens:1`, `stream:false`, no `stream_options` (`max_completion_tokens` is
 *    kept, as upstream). Only Content-Type and `x-request-id: <uuid>-enc-<i>` are sent: the client's
 *    headers (Authorization…) are not for the encoder. The answers are ignored.
 * 3. Any non-2xx or transport failure → 502 BadGateway. The first failure aborts the other calls.
 * 4. Then `cache_hit_threshold:0` and one added `x-request-id: <uuid>`, and the request continues
 *    with the KV connector (prefill target) or the decoder (DP routing applies, chunking does not).
 *
 * Upstream does not cancel encoder calls when the client leaves; here they are aborted and
 * nothing follows (a re-implementation should just stop, as for prefills).
 * `ec_transfer_params` is for the prefill pod's EC connector; decode legs never carry it (#1704).
 */
import type { HeaderRecord } from '../../src/http/headers.js';
import { patchMembers } from '../../src/openai/raw-json.js';
import { requestBuffered } from '../buffered.js';
import { runDecode } from '../decode.js';
import { dataParallelDecoder, legHeaders, targetLabel, type PdExchange } from '../exchange.js';
import type { HostPort } from '../../src/wire/host-port.js';
import { REQUEST_ID_HEADER } from '../../src/wire/headers.js';
import type { Upstream } from '../proxy.js';
import { badGateway, sendEmpty, sendError } from '../respond.js';
import { endClientSpan, setError, startClientSpan } from '../tracing.js';
import { withoutEcTransferParams } from './common.js';

/** Where encoders are primed, whatever the client's route (upstream's ChatCompletionsPath). */
const ENCODER_PATH = '/v1/chat/completions';

const MULTIMODAL_TYPES: ReadonlySet<string> = new Set(['image_url', 'audio_url', 'input_audio']);

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Every multimodal content part, in message order (text parts and string contents are skipped). */
export function multimodalItems(body: JsonObject): JsonObject[] {
  const items: JsonObject[] = [];
  if (!Array.isArray(body.messages)) return items;
  for (const message of body.messages) {
    if (!isObject(message) || !Array.isArray(message.content)) continue;
    for (const part of message.content) {
      if (isObject(part) && typeof part.type === 'string' && MULTIMODAL_TYPES.has(part.type)) items.push(part);
    }
  }
  return items;
}

/** `image_url.url` / `audio_url.url`, or '' for items without one (inline `input_audio`). */
function itemUrl(item: JsonObject): string {
  const holder = item.type === 'image_url' ? item.image_url : item.type === 'audio_url' ? item.audio_url : undefined;
  return isObject(holder) && typeof holder.url === 'string' ? holder.url : '';
}

/** The items with repeated URLs dropped (first occurrence kept): one encoding per distinct media. */
export function uniqueItems(items: readonly JsonObject[]): JsonObject[] {
  const seen = new Set<string>();
  return items.filter((item) => {
    const url = itemUrl(item);
    if (url === '') return true;
    if (seen.has(url)) return false;
    seen.add(url);
    return true;
  });
}

/** The encoder request for one item: the client body, edited as text, reduced to that item. */
export function encoderBody(text: string, item: JsonObject): string {
  return patchMembers(text, {
    messages: JSON.stringify([{ role: 'user', content: [item] }]),
    max_tokens: '1',
    stream: 'false',
    stream_options: undefined,
  });
}

/** undefined = primed; otherwise why not (the 502 message). */
async function primeOne(ex: PdExchange, encoder: HostPort, index: number, body: string, requestId: string, signal: AbortSignal): Promise<string | undefined> {
  let target: Upstream;
  try {
    target = ex.rt.encoderUpstream(encoder);
  } catch (err) {
    return `failed to get encoder proxy handler for ${targetLabel(encoder)}: ${(err as Error).message}`;
  }
  const headers: HeaderRecord = { 'content-type': 'application/json', [REQUEST_ID_HEADER]: `${requestId}-enc-${index}` };
  const client = startClientSpan(ex.span, 'POST', target, headers);
  ex.rt.logger.debug({ item: index, to: targetLabel(encoder), requestId }, 'sending encoder request');
  try {
    const response = await requestBuffered(target.dispatcher, { method: 'POST', path: ENCODER_PATH, headers, body }, signal, ex.rt.config.maxPrefillAnswerBytes);
    endClientSpan(client, response.status);
    if (response.status < 200 || response.status >= 300) {
      return `encoder request failed for item ${index} with status ${response.status}: ${response.body.toString('utf8')}`;
    }
    ex.rt.logger.debug({ item: index, requestId }, 'encoder request completed');
    return undefined;
  } catch (err) {
    endClientSpan(client, undefined, err, signal.aborted ? 'cancelled' : undefined);
    return `encoder request failed for item ${index}: ${(err as Error).message}`;
  }
}

/**
 * Sends every item to its encoder. Returns true when all succeeded; otherwise the client has its
 * 502 (or has left) and the request is over.
 */
async function primeEncoders(ex: PdExchange, encoders: readonly HostPort[], requestId: string): Promise<boolean> {
  const items = uniqueItems(multimodalItems(ex.json));
  if (items.length === 0) {
    ex.rt.logger.debug({ requestId }, 'no multimodal items, skipping encoder');
    return true;
  }
  ex.rt.logger.info({ count: items.length, requestId, encoderHostPorts: encoders }, 'processing multimodal items');
  // One signal for the fan-out: the client leaving or the first failure stops every call.
  const fanout = new AbortController();
  const onClientGone = (): void => fanout.abort(ex.signal.reason);
  ex.signal.addEventListener('abort', onClientGone, { once: true });
  let failure: string | undefined;
  try {
    await Promise.all(items.map(async (item, index) => {
      const problem = await primeOne(ex, encoders[index % encoders.length]!, index, encoderBody(ex.text, item), requestId, fanout.signal);
      if (problem !== undefined && !fanout.signal.aborted) {
        failure = problem;
        fanout.abort(new Error(problem));
      }
    }));
  } finally {
    ex.signal.removeEventListener('abort', onClientGone);
  }
  if (ex.signal.aborted) return false;
  if (failure !== undefined) {
    ex.rt.logger.error({ requestId, err: failure }, 'encoder processing failed');
    setError(ex.span, failure);
    sendError(ex.res, badGateway(failure));
    return false;
  }
  return true;
}

/** The exchange after the encoder stage, with the request id EPD added to its headers. */
export interface EncodedExchange extends PdExchange {
  readonly requestId: string;
}

/**
 * Runs the encoder stage. Returns the exchange to continue with (body with
 * `cache_hit_threshold:0`, headers with the added request id), or undefined when the request is over.
 */
export async function runEncoderStage(ex: PdExchange, encoders: readonly HostPort[]): Promise<EncodedExchange | undefined> {
  const { requestId } = ex;
  ex.rt.logger.debug({ prefiller: ex.target && targetLabel(ex.target), encoderCount: encoders.length, requestId }, 'running EPD protocol');
  if (!(await primeEncoders(ex, encoders, requestId))) return undefined;
  // The encoder has run: a decode-first attempt (shared-storage) must not skip the prefill.
  const text = patchMembers(ex.text, { cache_hit_threshold: '0' });
  return {
    ...ex,
    text,
    body: Buffer.from(text),
    json: { ...ex.json, cache_hit_threshold: 0 },
    headers: legHeaders(ex.headers, requestId, false),
    afterEncoderStage: true,
    requestId,
  };
}

/** Encoder → decoder, no prefill: DP routing (unknown rank → 400), else the local vLLM. */
export async function decodeAfterEncoders(ex: EncodedExchange): Promise<void> {
  const dp = dataParallelDecoder(ex.rt, ex.role, ex.req);
  if (dp.kind === 'unknown') {
    sendEmpty(ex.res, 400);
    return;
  }
  await runDecode(ex, {
    connector: ex.rt.config.kvConnector,
    decoder: dp.kind === 'rank' ? dp.decoder : ex.role.decoder,
    dataParallel: dp.kind === 'rank',
    body: withoutEcTransferParams(ex),
    headers: ex.headers,
    requestId: ex.requestId,
  });
}

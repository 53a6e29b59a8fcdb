/**
 * Upstream's dispatch-decode: the decode leg is the plain streaming decode (./decode.ts) unless
 * chunked decode is configured for this route (./chunked-decode.ts). Data-parallel legs are never
 * chunked (upstream's DP handler runs before dispatch-decode). The choice is made here once, so
 * the plain decode never passes through the chunking code.
 */
import { runChunkedDecode } from './chunked-decode.js';
import { runDecode, type DecodeLeg } from './decode.js';
import type { PdExchange } from './exchange.js';

const CHAT_COMPLETIONS_PATH = '/v1/chat/completions';

/**
 * True when decodes of `url` are chunked: a chunk size is set and the path is exactly the chat
 * route. Decided here, so a plain decode never enters the chunking code.
 */
export function chunkedDecodeApplies(chunkSize: number, url: string): boolean {
  if (chunkSize <= 0) return false;
  const query = url.indexOf('?');
  return (query < 0 ? url : url.slice(0, query)) === CHAT_COMPLETIONS_PATH;
}

export async function dispatchDecode(ex: PdExchange, leg: DecodeLeg): Promise<void> {
  if (!leg.dataParallel && chunkedDecodeApplies(ex.rt.config.decodeChunkSize, ex.url)) await runChunkedDecode(ex, leg);
  else await runDecode(ex, leg);
}

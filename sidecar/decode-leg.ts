/**
 * Upstream's dispatch-decode: the decode leg is the plain streaming decode (./decode.ts) unless
 * chunked decode is configured for this route (./chunked-decode.ts). Data-parallel legs are never
 * chunked (upstream's DP handler runs before dispatch-decode). The choice is made here once, so
 * the plain decode never passes through the chunking code.
 */
import { chunkedDecodeApplies, runChunkedDecode } from './chunked-decode.js';
import { runDecode, type DecodeLeg } from './decode.js';
import type { PdExchange } from './exchange.js';

export async function dispatchDecode(ex: PdExchange, leg: DecodeLeg): Promise<void> {
  if (!leg.dataParallel && chunkedDecodeApplies(ex.rt.config.decodeChunkSize, ex.url)) await runChunkedDecode(ex, leg);
  else await runDecode(ex, leg);
}

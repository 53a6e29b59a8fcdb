/** Header handling for proxies: hop-by-hop removal (RFC 9110 section 7.6.1) and copying between Node and undici. */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

export const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization',
  'te', 'trailer', 'transfer-encoding', 'upgrade',
]);

const NONE: ReadonlySet<string> = new Set();

/** Request headers of one proxied leg, as a plain object undici accepts. */
export type HeaderRecord = Record<string, string | string[]>;

/**
 * Copies request headers for forwarding: drops hop-by-hop headers (and those named by
 * `Connection`), `host`, `content-length` (undici sets it from the body), `expect` (this hop
 * already answered the 100-continue, and undici refuses to send it) and anything in `drop`.
 */
export function forwardRequestHeaders(headers: IncomingHttpHeaders, drop: ReadonlySet<string> = NONE): HeaderRecord {
  const connectionTokens = connectionListed(headers.connection);
  const out: HeaderRecord = {};
  // for…in, not Object.entries: this runs on every proxied request and should not allocate pairs.
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || HOP_BY_HOP.has(name) || drop.has(name) || connectionTokens?.has(name)) continue;
    if (name === 'host' || name === 'content-length' || name === 'expect') continue;
    out[name] = value;
  }
  return out;
}

/** Response headers from undici, minus hop-by-hop ones, ready for `res.writeHead`. */
export function forwardResponseHeaders(
  headers: Record<string, string | string[] | undefined>,
  drop: ReadonlySet<string> = NONE,
): OutgoingHttpHeaders {
  const connectionTokens = connectionListed(headers.connection);
  const out: OutgoingHttpHeaders = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || HOP_BY_HOP.has(name) || drop.has(name) || connectionTokens?.has(name)) continue;
    out[name] = value;
  }
  return out;
}

function connectionListed(value: string | string[] | undefined): Set<string> | undefined {
  // The usual values name no other header (keep-alive is hop-by-hop anyway): no set to build.
  if (!value || value === 'keep-alive' || value === 'close') return undefined;
  const joined = Array.isArray(value) ? value.join(',') : value;
  return new Set(joined.split(',').map((token) => token.trim().toLowerCase()).filter(Boolean));
}

/** Appends the client address to X-Forwarded-For, as Go's ReverseProxy does. */
export function appendForwardedFor(headers: HeaderRecord, clientIp: string | undefined): void {
  if (!clientIp) return;
  const prior = headers['x-forwarded-for'];
  const priorText = Array.isArray(prior) ? prior.join(', ') : prior;
  headers['x-forwarded-for'] = priorText ? `${priorText}, ${clientIp}` : clientIp;
}

/**
 * `host:port` values on the wire (routing headers, endpoint addresses): joined like Go's
 * net.JoinHostPort and parsed strictly. A parsed target is the only thing a caller may connect
 * to: the SSRF check and the connection use the same `HostPort`, so no parser disagreement
 * (userinfo, paths, whitespace) can make the checked host differ from the dialled one.
 */
import { isIPv4, isIPv6 } from 'node:net';

export interface HostPort {
  /** Host without brackets: an IPv4 literal, an IPv6 literal (lower case, compressed) or a DNS name (lower case). */
  readonly host: string;
  readonly port: number;
}

/** Go's net.JoinHostPort: brackets IPv6 literals (already bracketed hosts are kept as they are). */
export function joinHostPort(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** `http://host:port` (or https) for a parsed target. */
export function originOf(target: HostPort, scheme: 'http' | 'https' = 'http'): string {
  return `${scheme}://${joinHostPort(target.host, target.port)}`;
}

const DNS_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** A DNS name or an IP literal, canonical (lower case; IPv6 compressed); undefined if neither. */
export function canonicalHost(raw: string): string | undefined {
  const bracketed = raw.startsWith('[') && raw.endsWith(']');
  const bare = bracketed ? raw.slice(1, -1) : raw;
  if (isIPv6(bare)) return new URL(`http://[${bare}]/`).hostname.slice(1, -1);
  if (bracketed) return undefined;
  if (isIPv4(bare)) return bare;
  const lower = bare.toLowerCase();
  if (lower.length === 0 || lower.length > 253) return undefined;
  const name = lower.endsWith('.') ? lower.slice(0, -1) : lower;
  // All-numeric dotted names are not hosts (e.g. `10.0.0` or `1.2.3.256`): refuse, never guess.
  if (/^[0-9.]+$/.test(name)) return undefined;
  return name.split('.').every((label) => DNS_LABEL.test(label)) ? name : undefined;
}

/**
 * Strict `host:port`: `name:port`, `a.b.c.d:port` or `[v6]:port`, port 1–65535 in decimal digits.
 * Nothing else: no scheme, userinfo (`@`), path, query, fragment, whitespace or percent-encoding.
 * Returns undefined for anything that is not exactly that.
 */
export function parseHostPort(value: string): HostPort | undefined {
  if (value.length === 0 || value.length > 300) return undefined;
  let hostPart: string;
  let portPart: string;
  if (value.startsWith('[')) {
    const end = value.indexOf(']');
    if (end < 0 || value[end + 1] !== ':') return undefined;
    hostPart = value.slice(0, end + 1);
    portPart = value.slice(end + 2);
  } else {
    const colon = value.indexOf(':');
    if (colon <= 0 || value.indexOf(':', colon + 1) >= 0) return undefined;
    hostPart = value.slice(0, colon);
    portPart = value.slice(colon + 1);
  }
  if (!/^[0-9]{1,5}$/.test(portPart)) return undefined;
  const port = Number(portPart);
  if (port < 1 || port > 65535) return undefined;
  const host = canonicalHost(hostPart);
  return host === undefined ? undefined : { host, port };
}

/**
 * SSRF protection: which prefill (and encoder) targets the sidecar may call. Upstream builds the
 * set from an InferencePool watch (pod IPs and names); without Kubernetes we take a static list.
 * Checks are host-only — any port is accepted, as upstream — and happen before anything is sent.
 *
 * The check takes the parsed `HostPort` (src/wire/host-port.ts) — the very value the connection
 * is built from — never a raw header string, so the checked host and the dialled host cannot
 * differ. A pool watcher implements the same interface: `start()` resolves once the first sync is
 * done (the listener must not open before that), `close()` stops it.
 */
import { canonicalHost, parseHostPort, type HostPort } from '../src/wire/host-port.js';

export interface TargetAllowlist {
  readonly enabled: boolean;
  isAllowed(target: HostPort): boolean;
  start(): Promise<void>;
  close(): void;
}

/** Protection off: every well-formed target is allowed. */
export const ALLOW_ALL: TargetAllowlist = {
  enabled: false,
  isAllowed: () => true,
  start: async () => undefined,
  close: () => undefined,
};

/** An allowlist entry: `host`, `host:port` or `[v6]:port` → its canonical host. Throws on anything else. */
export function allowlistEntryHost(entry: string): string {
  const trimmed = entry.trim();
  const host = parseHostPort(trimmed)?.host ?? canonicalHost(trimmed);
  if (host === undefined) throw new Error(`--ssrf-allowlist entry ${JSON.stringify(entry)} is not a host, an IP or host:port`);
  return host;
}

export class StaticAllowlist implements TargetAllowlist {
  readonly enabled = true;
  private readonly hosts: ReadonlySet<string>;

  constructor(entries: Iterable<string>) {
    const hosts = new Set<string>();
    // An entry written as host:port allows the host (ports are never checked).
    for (const entry of entries) if (entry.trim() !== '') hosts.add(allowlistEntryHost(entry));
    this.hosts = hosts;
  }

  isAllowed(target: HostPort): boolean {
    return this.hosts.has(target.host);
  }

  async start(): Promise<void> {}

  close(): void {}

  get size(): number {
    return this.hosts.size;
  }
}

export function createAllowlist(options: { enableSsrfProtection: boolean; ssrfAllowlist: readonly string[] }): TargetAllowlist {
  return options.enableSsrfProtection ? new StaticAllowlist(options.ssrfAllowlist) : ALLOW_ALL;
}

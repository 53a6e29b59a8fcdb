/**
 * SSRF protection: which prefill (and encoder) targets the sidecar may call. Upstream builds the
 * set from an InferencePool watch (pod IPs and names); without Kubernetes we take a static list.
 * Checks are host-only — any port is accepted, as upstream — and happen before anything is sent.
 * A pool watcher implements the same interface later: `start()` resolves once the first sync is
 * done (the listener must not open before that), `close()` stops it.
 */

export interface TargetAllowlist {
  readonly enabled: boolean;
  isAllowed(hostPort: string): boolean;
  start(): Promise<void>;
  close(): void;
}

/** Protection off: everything is allowed, including values that are not host:port at all. */
export const ALLOW_ALL: TargetAllowlist = {
  enabled: false,
  isAllowed: () => true,
  start: async () => undefined,
  close: () => undefined,
};

/**
 * The host of a `host:port` value with Go's net.SplitHostPort rules, falling back to the whole
 * string when it does not split (so `http://h:p` stays unsplit and is denied, as upstream).
 */
export function hostOf(hostPort: string): string {
  if (hostPort.startsWith('[')) {
    const end = hostPort.indexOf(']');
    if (end > 0 && hostPort.charCodeAt(end + 1) === 0x3a && !hostPort.includes(':', end + 2)) return hostPort.slice(1, end);
    return hostPort;
  }
  const colon = hostPort.lastIndexOf(':');
  if (colon < 0 || hostPort.indexOf(':') !== colon) return hostPort;
  return hostPort.slice(0, colon);
}

/** Canonical spelling for comparison: lower case, IPv6 compressed (`0:0:…:1` → `::1`). */
export function canonicalHost(host: string): string {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (bare.includes(':') && /^[0-9a-f:.]+$/i.test(bare)) {
    try {
      return new URL(`http://[${bare}]/`).hostname.slice(1, -1);
    } catch {
      return bare.toLowerCase();
    }
  }
  return bare.toLowerCase();
}

export class StaticAllowlist implements TargetAllowlist {
  readonly enabled = true;
  private readonly hosts: ReadonlySet<string>;

  constructor(entries: Iterable<string>) {
    const hosts = new Set<string>();
    for (const entry of entries) {
      const trimmed = entry.trim();
      // An entry written as host:port allows the host (ports are never checked).
      if (trimmed) hosts.add(canonicalHost(hostOf(trimmed)));
    }
    this.hosts = hosts;
  }

  isAllowed(hostPort: string): boolean {
    return this.hosts.has(canonicalHost(hostOf(hostPort.trim())));
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

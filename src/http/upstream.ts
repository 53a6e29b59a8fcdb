/**
 * One undici Pool per upstream origin, with keep-alive pools sized for a proxy (llm-d #746: tiny
 * idle pools cost ~10x in p99) and no header/body timeouts (long prefills and streams are normal).
 * Origins are normalised so `http://h:p` and `h:p` share a pool (upstream's cache-key bug).
 */
import { Pool, type Dispatcher } from 'undici';

export interface UpstreamPoolOptions {
  /** Keep-alive connections per origin. */
  connections?: number;
  /** Most origins kept; the least recently used pool is closed past it. */
  maxOrigins?: number;
  /** TLS: skip certificate verification (self-signed prefill/decode pods). */
  insecureSkipVerify?: boolean;
  connectTimeoutMs?: number;
}

/** `host:port`, `http://host:port` or `https://host:port` → `http(s)://host:port`. */
export function normalizeOrigin(target: string, useTls: boolean): string {
  let hostPort = target.trim();
  let scheme = useTls ? 'https' : 'http';
  const match = /^(https?):\/\//i.exec(hostPort);
  if (match) {
    scheme = match[1]!.toLowerCase();
    hostPort = hostPort.slice(match[0].length);
  }
  hostPort = hostPort.replace(/\/+$/, '').toLowerCase();
  return `${scheme}://${hostPort}`;
}

export class UpstreamPools {
  private readonly pools = new Map<string, Pool>();
  private readonly options: Required<UpstreamPoolOptions>;
  private closed = false;

  constructor(options: UpstreamPoolOptions = {}) {
    this.options = {
      connections: options.connections ?? 1024,
      maxOrigins: options.maxOrigins ?? 1024,
      insecureSkipVerify: options.insecureSkipVerify ?? false,
      connectTimeoutMs: options.connectTimeoutMs ?? 30_000,
    };
  }

  /** The pool for an already-normalised origin (see normalizeOrigin). */
  get(origin: string): Dispatcher {
    if (this.closed) throw new Error('upstream pools are closed');
    let pool = this.pools.get(origin);
    if (pool) {
      // Map order is insertion order: re-insert to mark as most recently used.
      this.pools.delete(origin);
      this.pools.set(origin, pool);
      return pool;
    }
    pool = new Pool(origin, {
      connections: this.options.connections,
      pipelining: 1,
      headersTimeout: 0,
      bodyTimeout: 0,
      keepAliveTimeout: 90_000,
      keepAliveMaxTimeout: 300_000,
      connect: {
        timeout: this.options.connectTimeoutMs,
        rejectUnauthorized: !this.options.insecureSkipVerify,
      },
    });
    this.pools.set(origin, pool);
    if (this.pools.size > this.options.maxOrigins) {
      const [oldest, oldestPool] = this.pools.entries().next().value as [string, Pool];
      this.pools.delete(oldest);
      void oldestPool.close().catch(() => undefined);
    }
    return pool;
  }

  get size(): number {
    return this.pools.size;
  }

  async close(): Promise<void> {
    this.closed = true;
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((pool) => pool.close().catch(() => pool.destroy())));
  }
}

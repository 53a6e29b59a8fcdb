/**
 * Starting and stopping an HTTP(S) server the way every pd-router listener wants it: explicit
 * timeouts, 1 MiB headers, and a graceful close that stops accepting, lets in-flight requests
 * finish, then cuts what is left.
 *
 * Timeouts (slow clients must not hold connections): the request headers must arrive within
 * `headersTimeoutMs` (default 30 s) and the whole request — headers and body — within
 * `requestTimeoutMs` (default none); past either, Node answers 408 and closes the connection.
 * They only bound *receiving* the request: a long streamed answer is never cut. Idle keep-alive
 * connections close after 300 s. Node checks the deadlines every `connectionsCheckingInterval`,
 * which is derived from the shortest one so a deadline is enforced within a quarter of itself.
 */
import http, { type RequestListener } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { SERVER_TLS_OPTIONS, type TlsMaterial } from './tls.js';

export interface ListenOptions {
  port: number;
  host?: string;
  tls?: TlsMaterial;
  /** With `tls`: PEM CA bundle; clients must present a certificate it signed (mutual TLS). */
  clientCa?: string;
  /**
   * Time to receive a request's headers (default 30 s); past it Node answers 408 and closes the
   * connection. Connections are checked every quarter of the shortest deadline (at most every second).
   */
  headersTimeoutMs?: number;
  /** Time to receive the whole request, headers included (408 past it); 0 = none. Default 0. */
  requestTimeoutMs?: number;
}

export interface ListeningServer {
  readonly server: http.Server;
  readonly port: number;
  readonly host: string;
  readonly url: string;
  /** Replaces the TLS certificate for new connections (hot reload). */
  setCertificate(material: TlsMaterial): void;
  /** Stops accepting, waits for in-flight requests up to `graceMs`, then closes every connection. */
  close(graceMs?: number): Promise<void>;
}

const SERVER_OPTIONS = {
  headersTimeout: 30_000,
  requestTimeout: 0,
  keepAliveTimeout: 300_000,
  maxHeaderSize: 1024 * 1024,
} as const;

/** Node's server options for the configured deadlines. */
export function serverTimeouts(options: Pick<ListenOptions, 'headersTimeoutMs' | 'requestTimeoutMs'>): http.ServerOptions {
  const headersTimeout = options.headersTimeoutMs ?? SERVER_OPTIONS.headersTimeout;
  const requestTimeout = options.requestTimeoutMs ?? SERVER_OPTIONS.requestTimeout;
  if (!(headersTimeout > 0)) throw new Error(`headers timeout must be positive, got ${headersTimeout}ms`);
  if (requestTimeout !== 0 && requestTimeout < headersTimeout) throw new Error(`request timeout (${requestTimeout}ms) must be 0 or ≥ the headers timeout (${headersTimeout}ms)`);
  const shortest = requestTimeout === 0 ? headersTimeout : Math.min(headersTimeout, requestTimeout);
  return { headersTimeout, requestTimeout, connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(shortest / 4))) };
}

export async function listen(handler: RequestListener, options: ListenOptions): Promise<ListeningServer> {
  const serverOptions = { ...SERVER_OPTIONS, ...serverTimeouts(options) };
  const server: http.Server = options.tls
    ? https.createServer({
      ...serverOptions, ...SERVER_TLS_OPTIONS, cert: options.tls.cert, key: options.tls.key,
      ...(options.clientCa ? { ca: options.clientCa, requestCert: true, rejectUnauthorized: true } : {}),
    }, handler)
    : http.createServer(serverOptions, handler);
  server.keepAliveTimeout = SERVER_OPTIONS.keepAliveTimeout;
  const host = options.host ?? '0.0.0.0';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const scheme = options.tls ? 'https' : 'http';
  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  let closing: Promise<void> | undefined;
  return {
    server,
    port,
    host,
    url: `${scheme}://${urlHost}:${port}`,
    setCertificate(material) {
      if (server instanceof https.Server) server.setSecureContext({ ...SERVER_TLS_OPTIONS, cert: material.cert, key: material.key });
    },
    close(graceMs = 60_000) {
      closing ??= new Promise<void>((resolve) => {
        const timer = setTimeout(() => server.closeAllConnections(), graceMs);
        timer.unref();
        // A keep-alive connection whose in-flight response finishes after close() stays open
        // (Node answers it with keep-alive), so idle connections are swept until all are gone.
        const sweep = setInterval(() => server.closeIdleConnections(), 100);
        sweep.unref();
        server.close(() => {
          clearTimeout(timer);
          clearInterval(sweep);
          resolve();
        });
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}

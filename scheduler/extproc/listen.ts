/** Binding and stopping grpc-js servers (shared by the ext_proc and health servers). */
import * as grpc from '@grpc/grpc-js';

/** Binds `host:port` (IPv6 bracketed; port 0 picks one) and resolves with the bound port. */
export function bind(server: grpc.Server, host: string, port: number, credentials: grpc.ServerCredentials): Promise<number> {
  const address = `${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${port}`;
  return new Promise((resolve, reject) => {
    server.bindAsync(address, credentials, (err, bound) => (err ? reject(err) : resolve(bound)));
  });
}

/** Graceful shutdown: stop accepting, let open calls end, cut the rest after `graceMs`. */
export function shutdown(server: grpc.Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => server.forceShutdown(), graceMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

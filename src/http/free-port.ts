/**
 * A TCP port on 127.0.0.1 that was free a moment ago: bind port 0, read the port the kernel chose,
 * close. For a process that must be told its port before it starts (a child EPP, Redis, a ZeroMQ
 * endpoint); anything that can listen on port 0 itself should do that instead, since another
 * process may take the port between this call and the bind.
 */
import { createServer } from 'node:net';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

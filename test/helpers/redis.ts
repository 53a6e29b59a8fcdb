/**
 * A real, throwaway redis-server for tests: a free loopback port, no persistence
 * (`--save "" --appendonly no`), stopped by `stop()`. When redis-server is not installed this
 * throws with instructions instead of letting the Redis tests skip silently (CI installs it).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { freePort } from '../../src/http/free-port.js';

export interface RedisServer {
  readonly port: number;
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  stop(): Promise<void>;
  /** SIGSTOP / SIGCONT: the server keeps its connections open and stops answering, then goes on. */
  pause(): void;
  resume(): void;
}

const BINARY = process.env.REDIS_SERVER_BIN ?? 'redis-server';


function assertInstalled(): void {
  const probe = spawnSync(BINARY, ['--version'], { encoding: 'utf8' });
  if (probe.error !== undefined || probe.status !== 0) {
    throw new Error(
      `${BINARY} is not available (${probe.error?.message ?? probe.stderr}). The Redis index tests need a real server: ` +
        'install it (Debian/Ubuntu: apt-get install redis-server; .ci/run does this) or set REDIS_SERVER_BIN.',
    );
  }
}

function waitReady(child: ChildProcess, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => fail(new Error(`redis-server not ready after ${timeoutMs} ms:\n${output}`)), timeoutMs);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) done();
    };
    const onExit = (code: number | null): void => fail(new Error(`redis-server exited (${code}) before it was ready:\n${output}`));
    function cleanup(): void {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.off('exit', onExit);
    }
    function done(): void {
      cleanup();
      resolve();
    }
    function fail(err: Error): void {
      cleanup();
      reject(err);
    }
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/**
 * Starts redis-server on a free port (a few attempts, in case another process grabs the port
 * first), or on `port` (a restart where a stopped one was).
 */
export async function startRedisServer(options: { port?: number } = {}): Promise<RedisServer> {
  assertInstalled();
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = options.port ?? (await freePort());
    const child = spawn(
      BINARY,
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', tmpdir(), '--daemonize', 'no'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    try {
      await waitReady(child, 10_000);
    } catch (err) {
      lastError = err;
      await stopChild(child);
      continue;
    }
    child.stdout?.resume(); // keep draining so a chatty server never blocks on a full pipe
    child.stderr?.resume();
    return {
      port,
      url: `redis://127.0.0.1:${port}`,
      stop: () => {
        child.kill('SIGCONT'); // a paused server cannot act on SIGTERM
        return stopChild(child);
      },
      pause: () => child.kill('SIGSTOP'),
      resume: () => child.kill('SIGCONT'),
    };
  }
  throw lastError;
}

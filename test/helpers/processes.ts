/**
 * Starts `pd-router <subcommand>` as a real child process (from dist/) and waits until it logs
 * `{"msg":"listening",...}`. Servers bind port 0; the port is read from that log line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

export const CLI = fileURLToPath(new URL('../../dist/bin/pd-router.js', import.meta.url));

export interface LogLine {
  msg?: string;
  level?: number;
  [key: string]: unknown;
}

export interface RunningProcess {
  readonly child: ChildProcess;
  /** The first `listening` log line's `url` and `port`. */
  readonly url: string;
  readonly port: number;
  /** Every `listening` line, for processes with more than one listener. */
  readonly listeners: LogLine[];
  readonly logs: LogLine[];
  readonly stderr: string[];
  /** Resolves with the first log line matching `predicate` (already seen or future). */
  waitForLog(predicate: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
}

export interface StartOptions {
  env?: Record<string, string>;
  /** How many `listening` lines to wait for (default 1). */
  listeners?: number;
  timeoutMs?: number;
}

export async function startCli(args: string[], options: StartOptions = {}): Promise<RunningProcess> {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'info', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: LogLine[] = [];
  const stderr: string[] = [];
  const listeners: LogLine[] = [];
  const waiters: Array<{ predicate: (line: LogLine) => boolean; resolve: (line: LogLine) => void }> = [];
  createInterface({ input: child.stdout! }).on('line', (text) => {
    let line: LogLine;
    try {
      line = JSON.parse(text) as LogLine;
    } catch {
      line = { msg: text };
    }
    logs.push(line);
    if (line.msg === 'listening') listeners.push(line);
    for (const waiter of [...waiters]) {
      if (waiter.predicate(line)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  });
  createInterface({ input: child.stderr! }).on('line', (text) => stderr.push(text));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const waitForLog = (predicate: (line: LogLine) => boolean, timeoutMs = 20_000): Promise<LogLine> => {
    const seen = logs.find(predicate);
    if (seen) return Promise.resolve(seen);
    return new Promise<LogLine>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for log in: ${args.join(' ')}\nstderr: ${stderr.join('\n')}`)), timeoutMs);
      waiters.push({ predicate, resolve: (line) => { clearTimeout(timer); resolve(line); } });
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`process exited (${code}) before the expected log: ${args.join(' ')}\nstderr: ${stderr.join('\n')}\nstdout: ${logs.map((l) => JSON.stringify(l)).join('\n')}`));
      });
    });
  };

  const wanted = options.listeners ?? 1;
  // Generous: a loaded CI host can take many seconds to start a sim that loads a real tokenizer.
  await waitForLog(() => listeners.length >= wanted, options.timeoutMs ?? 45_000);
  const first = listeners[0]!;
  return {
    child,
    url: String(first.url),
    port: Number(first.port),
    listeners,
    logs,
    stderr,
    waitForLog,
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

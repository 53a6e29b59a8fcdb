/**
 * Child processes of the local demo: each component runs as its own `pd-router` process (the way
 * it runs in a cluster), so traces really cross process boundaries.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../bin/pd-router.js', import.meta.url));

export interface LogLine {
  msg?: string;
  [key: string]: unknown;
}

export interface ChildService {
  readonly name: string;
  readonly child: ChildProcess;
  /** Resolves with the `listening` log lines once `listeners` of them arrived. */
  readonly ready: Promise<LogLine[]>;
  stop(): Promise<void>;
}

export function startChild(name: string, args: string[], options: { env?: Record<string, string>; listeners?: number; onLog?: (line: LogLine) => void } = {}): ChildService {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const listening: LogLine[] = [];
  const wanted = options.listeners ?? 1;
  const stderr: string[] = [];
  const ready = new Promise<LogLine[]>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (text) => {
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        return;
      }
      if (line.msg === 'listening') {
        listening.push(line);
        if (listening.length === wanted) resolve(listening);
      }
      options.onLog?.(line);
    });
    createInterface({ input: child.stderr! }).on('line', (text) => stderr.push(text));
    child.once('exit', (code) => reject(new Error(`${name} exited with code ${code} before it was ready:\n${stderr.slice(-20).join('\n')}`)));
  });
  ready.catch(() => undefined);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    name,
    child,
    ready,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

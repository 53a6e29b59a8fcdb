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
  level?: number;
  [key: string]: unknown;
}

/** A child that exited before it was ready, with what it said about why. */
export class ChildExitError extends Error {
  constructor(readonly child: string, readonly code: number | null, readonly output: readonly string[]) {
    super(`${child} exited with code ${code} before it was ready${output.length ? `:\n  ${[...new Set(output)].join('\n  ')}` : ' (it printed no error)'}`);
    this.name = 'ChildExitError';
  }
}

export interface ChildService {
  readonly name: string;
  readonly child: ChildProcess;
  /** Resolves with the `listening` log lines once `listeners` of them arrived. */
  readonly ready: Promise<LogLine[]>;
  stop(): Promise<void>;
}

export interface StartOptions {
  env?: Record<string, string>;
  listeners?: number;
  onLog?: (line: LogLine) => void;
  /**
   * Where the child's own output goes: lines on stdout that are not our JSON logs (e.g. spans
   * from OTEL_TRACES_EXPORTER=console) and error/fatal log records. Default: this process's stderr.
   */
  relay?: (text: string) => void;
}

/** pino's numeric level of error. */
const ERROR_LEVEL = 50;

export function startChild(name: string, args: string[], options: StartOptions = {}): ChildService {
  // Children log JSON: the demo reads their `listening` lines.
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...options.env, LOG_FORMAT: 'json' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const relay = options.relay ?? ((text: string) => process.stderr.write(`${text}\n`));
  const listening: LogLine[] = [];
  const wanted = options.listeners ?? 1;
  /** Why it failed: error records and stderr, newest last. */
  const problems: string[] = [];
  const ready = new Promise<LogLine[]>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (text) => {
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        relay(`[${name}] ${text}`);
        return;
      }
      if (typeof line.level === 'number' && line.level >= ERROR_LEVEL) {
        const detail = `${String(line.msg)}${line.err === undefined ? '' : `: ${typeof line.err === 'string' ? line.err : JSON.stringify(line.err)}`}`;
        problems.push(detail);
        if (listening.length === wanted) relay(`[${name}] ${detail}`);
      }
      if (line.msg === 'listening') {
        listening.push(line);
        if (listening.length === wanted) resolve(listening);
      }
      options.onLog?.(line);
    });
    createInterface({ input: child.stderr! }).on('line', (text) => {
      problems.push(text);
      if (listening.length === wanted) relay(`[${name}] ${text}`);
    });
    child.once('exit', (code) => reject(new ChildExitError(name, code, problems.slice(-20))));
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

/**
 * The EPP as its own process for the front-door benchmarks (bench/epp-long-frontdoor.ts):
 * `pd-router epp` with a given config over a static endpoints file, its request log lines read for
 * `schedulingMs`, its CPU read from /proc (every thread), its Prometheus metrics scraped.
 *
 * BENCH_EPP_NODE_ARGS adds node flags to the child (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`);
 * BENCH_EPP_LOG_FILE appends its log lines to a file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { RunningSimulator } from '../src/sim/simulator.js';
import { freePort } from '../src/http/free-port.js';

export const ROOT = fileURLToPath(new URL(import.meta.url.includes('/dist/') ? '../..' : '..', import.meta.url));

export interface Epp {
  gateway: string;
  grpcPort: number;
  metrics: string;
  child: ChildProcess;
  /** `schedulingMs` of every request line logged so far, by request id. */
  scheduling: Map<string, number>;
  /** Background CPU of the idle EPP (endpoint metrics scrapes, timers), ns per wall ms. */
  idleNsPerMs: number;
  close(): Promise<void>;
}

/** On-CPU nanoseconds of every thread of `pid` (those alive now). */
export function cpuNs(pid: number): number {
  let total = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return total;
}

/**
 * Minor page faults of the whole process so far (/proc/<pid>/stat field 10: every thread, ended
 * ones included). Each is a fresh page the kernel had to map: on the development VM (Firecracker)
 * one costs tens of µs, so a body-sized allocation that V8 or malloc maps anew is visible in CPU.
 */
export function minorFaults(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may contain spaces.
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[7]);
}

export async function poll<T>(what: string, read: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function startEpp(configText: string, sims: readonly RunningSimulator[], dir: string): Promise<Epp> {
  const [gatewayPort, grpcPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
  writeFileSync(join(dir, 'epp.yaml'), configText);
  writeFileSync(join(dir, 'endpoints.yaml'), `endpoints:\n${sims.map((sim, i) => `- name: sim-${i}\n  address: 127.0.0.1\n  port: ${sim.port}\n`).join('')}`);
  const child = spawn(process.execPath, [
    ...(process.env.BENCH_EPP_NODE_ARGS?.split(' ').filter(Boolean) ?? []), join(ROOT, 'dist/bin/pd-router.js'), 'epp', '--config', join(dir, 'epp.yaml'), '--endpoints', join(dir, 'endpoints.yaml'),
    '--host', '127.0.0.1', '--gateway-port', String(gatewayPort), '--grpc-port', String(grpcPort), '--grpc-health-port', '-1',
    '--metrics-port', String(metricsPort), '--secure-serving', 'false',
    // Endpoint metrics every second, not every 50 ms: four scrapes per 50 ms cost this EPP ~90 ms
    // of CPU per second on the development host, background noise in a per-request CPU figure.
    '--refresh-metrics-interval', '1s',
  ], { stdio: ['ignore', 'pipe', 'inherit'] });
  const scheduling = new Map<string, number>();
  const logFile = process.env.BENCH_EPP_LOG_FILE;
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (logFile !== undefined) appendFileSync(logFile, `${line}\n`);
    try {
      const entry = JSON.parse(line) as { msg?: string; requestId?: string; schedulingMs?: number };
      if (entry.requestId !== undefined && typeof entry.schedulingMs === 'number') scheduling.set(entry.requestId, entry.schedulingMs);
    } catch {
      // not a log line
    }
  });
  const metrics = `http://127.0.0.1:${metricsPort}/metrics`;
  await poll('the EPP', async () => ((await fetch(metrics)).ok ? true : undefined));
  return {
    gateway: `http://127.0.0.1:${gatewayPort}/v1/chat/completions`, grpcPort, metrics, child, scheduling, idleNsPerMs: 0,
    close: () => new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    }),
  };
}

export async function metricValue(epp: Epp, name: string): Promise<number> {
  const text = await (await fetch(epp.metrics)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

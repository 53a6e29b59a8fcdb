/**
 * Runs wrk (Debian package) against a URL with a POST body and parses its latency percentiles and
 * throughput. wrk is a separate native process, so the load generator does not compete with the
 * Node event loop under test for more than its own core.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface WrkResult {
  p50Ms: number;
  p99Ms: number;
  requestsPerSecond: number;
  errors: number;
}

function toMs(value: string, unit: string): number {
  const n = Number(value);
  switch (unit) {
    case 'us': return n / 1000;
    case 'ms': return n;
    case 's': return n * 1000;
    default: return Number.NaN;
  }
}

export function wrkAvailable(): Promise<boolean> {
  return run('wrk', ['--version']).then(() => true, (err: { stdout?: string }) => Boolean(err.stdout?.includes('wrk')));
}

export async function wrk(url: string, options: { connections: number; seconds: number; body: string; headers?: Record<string, string> }): Promise<WrkResult> {
  const dir = mkdtempSync(join(tmpdir(), 'pd-wrk-'));
  const script = join(dir, 'post.lua');
  const headers = { 'content-type': 'application/json', ...options.headers };
  writeFileSync(script, [
    'wrk.method = "POST"',
    `wrk.body = ${JSON.stringify(options.body)}`,
    ...Object.entries(headers).map(([k, v]) => `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`),
  ].join('\n'));
  const { stdout } = await run('wrk', ['-t1', `-c${options.connections}`, `-d${options.seconds}s`, '--latency', '-s', script, url], { maxBuffer: 1 << 20 });
  const percentile = (p: string): number => {
    const match = new RegExp(`^\\s*${p}%\\s+([\\d.]+)(us|ms|s)\\s*$`, 'm').exec(stdout);
    return match ? toMs(match[1]!, match[2]!) : Number.NaN;
  };
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(stdout);
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(stdout);
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
  const errors = Number(non2xx?.[1] ?? 0) + (socketErrors ? socketErrors.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
  return { p50Ms: percentile('50'), p99Ms: percentile('99'), requestsPerSecond: rps ? Number(rps[1]) : Number.NaN, errors };
}

/**
 * `npm start` runs `pd-router demo`: the whole local P/D stack. `--smoke` sends a short and a long
 * request through it, prints how each was routed, and stops everything.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CLI } from '../helpers/processes.js';

function runDemo(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, 'demo', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('pd-router demo', () => {
  it('starts sims, sidecars and the EPP, serves a decode-only and a P/D request, and stops cleanly', async () => {
    const { code, output } = await runDemo(['--smoke', '--gateway-port', '0', '--grpc-port', '0', '--metrics-port', '0']);
    expect(output, output).toContain('pd-router demo is up');
    expect(output).toMatch(/curl -s http:\/\/127\.0\.0\.1:\d+\/v1\/chat\/completions/);
    expect(output).toMatch(/smoke short: HTTP 200/);
    expect(output).toMatch(/smoke long: HTTP 200/);
    expect(output).toMatch(/routed \S+: decode-only → decode=decode-\d/);
    expect(output).toMatch(/routed \S+: prefill=prefill-0 → decode=decode-\d/);
    expect(code).toBe(0);
  }, 90_000);
});

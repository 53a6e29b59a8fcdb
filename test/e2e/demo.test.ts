/**
 * `npm start` runs `pd-router demo`: the whole local P/D stack. `--smoke` sends a short and a long
 * request through it, prints how each was routed, and stops everything.
 */
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { describe, expect, it } from 'vitest';
import { portAdvice } from '../../src/demo.js';
import { ChildExitError } from '../../src/demo-stack.js';
import { CLI } from '../helpers/processes.js';

const ANY_PORT = ['--gateway-port', '0', '--grpc-port', '0', '--metrics-port', '0'];

function runDemo(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, 'demo', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
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
    const { code, output } = await runDemo(['--smoke', ...ANY_PORT]);
    expect(output, output).toContain('pd-router demo is up');
    expect(output).toMatch(/curl -s http:\/\/127\.0\.0\.1:\d+\/v1\/chat\/completions/);
    expect(output).toMatch(/smoke short: HTTP 200/);
    expect(output).toMatch(/smoke long: HTTP 200/);
    expect(output).toMatch(/routed \S+: decode-only decode=decode-\d reason=short_input · HTTP 200/);
    expect(output).toMatch(/routed \S+: P\/D prefill=prefill-0 → decode=decode-\d reason=threshold_met · HTTP 200/);
    expect(code).toBe(0);
  }, 90_000);

  it('a busy port names the port and the flag that moves it', async () => {
    const busy: Server = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as { port: number }).port;
    try {
      const { code, output } = await runDemo(['--smoke', '--gateway-port', String(port), '--grpc-port', '0', '--metrics-port', '0']);
      expect(code).toBe(1);
      expect(output, output).toContain('epp exited with code 1 before it was ready');
      expect(output).toContain(`EADDRINUSE: address already in use 127.0.0.1:${port}`);
      expect(output).toContain(`port ${port} is in use by another process`);
      expect(output).toContain(`npm start -- --gateway-port ${port + 1}`);
    } finally {
      busy.close();
    }
  }, 90_000);

  it("relays the children's own output: OTEL_TRACES_EXPORTER=console spans appear", async () => {
    const { code, output } = await runDemo(['--smoke', ...ANY_PORT], { OTEL_TRACES_EXPORTER: 'console', OTEL_TRACES_SAMPLER: 'always_on' });
    expect(code, output).toBe(0);
    expect(output).toMatch(/\[epp\] .*traceId/);
    // Either decode pod may serve both smoke requests: any decode sidecar's spans will do.
    expect(output).toMatch(/\[decode-\d\] .*traceId/);
  }, 90_000);

  it('portAdvice maps each busy demo port to its flag, and says nothing for other errors', () => {
    const config = { gatewayPort: 8080, grpcPort: 9002, metricsPort: 9090 };
    const err = (port: number) => new ChildExitError('epp', 1, [`pd-router epp: failed to start: listen EADDRINUSE: address already in use 127.0.0.1:${port}`]);
    expect(portAdvice(err(9090), config)).toContain('npm start -- --metrics-port 9091');
    expect(portAdvice(err(9002), config)).toContain('npm start -- --grpc-port 9003');
    expect(portAdvice(err(1234), config)).toBe('\nport 1234 is in use by another process.');
    expect(portAdvice(new ChildExitError('epp', 1, ['invalid YAML']), config)).toBe('');
  });
});

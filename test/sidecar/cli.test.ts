/**
 * `pd-router sidecar` as a real process (dist/): start-up logging, configuration errors, and
 * SIGTERM — stop accepting, finish the in-flight request, exit 0.
 */
import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { CLI, startCli, type RunningProcess } from '../helpers/processes.js';
import { startFakeVllm, startHeldStreamVllm, type FakeVllm } from './helpers/fake-vllm.js';

let decoder: FakeVllm | undefined;
let sidecar: RunningProcess | undefined;

afterEach(async () => {
  await sidecar?.stop();
  sidecar = undefined;
  await decoder?.close();
  decoder = undefined;
});

function runCli(args: string[]): { status: number | null; stderr: string; stdout: string } {
  const result = spawnSync(process.execPath, [CLI, 'sidecar', ...args], { encoding: 'utf8', timeout: 20_000 });
  return { status: result.status, stderr: result.stderr, stdout: result.stdout };
}

describe('pd-router sidecar process', () => {
  it.each([
    [['--kv-connector=foo'], /--kv-connector must be one of/],
    [['--enable-ssrf-protection'], /needs an allowlist/],
    [['--configuration={nope: 1}'], /failed to unmarshal sidecar configuration/],
    [['--no-such-flag'], /unknown option/],
  ])('fails at start with a clear message for %j', (args, message) => {
    const result = runCli([...args, '--port=0']);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(message);
  });

  it('serves self-signed HTTPS by default and logs where it listens', async () => {
    decoder = await startFakeVllm();
    sidecar = await startCli(['sidecar', '--port=0', '--host=127.0.0.1', `--vllm-port=${decoder.port}`, '--vllm-host=127.0.0.1']);
    expect(sidecar.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(sidecar.listeners[0]).toMatchObject({ listener: 'http', port: sidecar.port });
  });

  it('on SIGTERM stops accepting, finishes the in-flight request, then exits 0', async () => {
    const held = await startHeldStreamVllm();
    decoder = held.decoder;
    sidecar = await startCli(['sidecar', '--port=0', '--host=127.0.0.1', '--secure-proxy=false', `--vllm-port=${decoder.port}`, '--vllm-host=127.0.0.1']);
    const answer = await request(`${sidecar.url}/v1/chat/completions`, { method: 'POST', body: '{"model":"m","stream":true}' });
    const reader = answer.body[Symbol.asyncIterator]();
    expect(String((await reader.next()).value)).toBe('data: {"n":1}\n\n');

    const exited = new Promise<number | null>((resolve) => sidecar!.child.once('exit', (code) => resolve(code)));
    sidecar.child.kill('SIGTERM');
    await sidecar.waitForLog((line) => line.msg === 'shutting down');
    await expect(request(`${sidecar.url}/health`)).rejects.toThrow();

    held.release();
    let rest = '';
    for (let next = await reader.next(); !next.done; next = await reader.next()) rest += String(next.value);
    expect(rest).toBe('data: [DONE]\n\n');
    expect(await exited).toBe(0);
  });
});

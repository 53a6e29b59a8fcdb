/**
 * TLS: HTTPS upstream legs (--enable-tls / --tls-insecure-skip-verify) and the --cert-path
 * certificate, hot-reloaded when its files change.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { selfSignedCertificate, type TlsMaterial } from '../../src/http/tls.js';
import { PREFILL_ANSWER, DECODE_ANSWER, sendJson, startFakeVllm, type FakeVllm } from './helpers/fake-vllm.js';
import { insecureAgent, post, startTestSidecar, type TestSidecar } from './helpers/sidecar.js';

let prefiller: FakeVllm | undefined;
let decoder: FakeVllm | undefined;
let sidecar: TestSidecar | undefined;

afterAll(async () => {
  await insecureAgent.close();
});

afterEach(async () => {
  await sidecar?.close(0);
  sidecar = undefined;
  await prefiller?.close();
  await decoder?.close();
});

describe('HTTPS upstream legs', () => {
  const both = { prefiller: true, decoder: true, encoder: false };

  it('prefill and decode over TLS with verification skipped', async () => {
    prefiller = await startFakeVllm((_r, res) => sendJson(res, 200, PREFILL_ANSWER), { tls: true });
    decoder = await startFakeVllm((_r, res) => sendJson(res, 200, DECODE_ANSWER), { tls: true });
    sidecar = await startTestSidecar(decoder.port, { useTls: both, insecureSkipVerify: both });
    const answer = await post(`${sidecar.url}/v1/chat/completions`, { model: 'm' }, { 'x-prefiller-host-port': prefiller.hostPort });
    expect(answer.status).toBe(200);
    expect(prefiller.requests).toHaveLength(1);
    expect(decoder.requests).toHaveLength(1);
    expect((await post(`${sidecar.url}/v1/embeddings`, { input: 'x' })).status).toBe(200);
  });

  it('refuses untrusted certificates unless told to skip verification', async () => {
    prefiller = await startFakeVllm((_r, res) => sendJson(res, 200, PREFILL_ANSWER), { tls: true });
    decoder = await startFakeVllm((_r, res) => sendJson(res, 200, DECODE_ANSWER), { tls: true });
    sidecar = await startTestSidecar(decoder.port, { useTls: both });
    const pd = await post(`${sidecar.url}/v1/chat/completions`, { model: 'm' }, { 'x-prefiller-host-port': prefiller.hostPort });
    expect(pd.status).toBe(502);
    const plain = await post(`${sidecar.url}/v1/embeddings`, { input: 'x' });
    expect(plain.status).toBe(502);
    expect(prefiller.requests).toHaveLength(0);
    expect(decoder.requests).toHaveLength(0);
  });
});

async function peerCertificate(url: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: hostname, port: Number(port), rejectUnauthorized: false }, () => {
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      socket.end();
      resolve(fingerprint);
    });
    socket.on('error', reject);
  });
}

function fingerprintOf(material: TlsMaterial): string {
  return new X509Certificate(material.cert).fingerprint256;
}

describe('--cert-path', () => {
  it('serves the directory\'s certificate and reloads it when the files change', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sidecar-certs-'));
    const write = (material: TlsMaterial): void => {
      writeFileSync(join(dir, 'tls.key'), material.key);
      writeFileSync(join(dir, 'tls.crt'), material.cert);
    };
    const [first, second] = await Promise.all([selfSignedCertificate('first'), selfSignedCertificate('second')]);
    write(first);
    decoder = await startFakeVllm();
    sidecar = await startTestSidecar(decoder.port, { secureProxy: true, certPath: dir });
    expect(await peerCertificate(sidecar.url)).toBe(fingerprintOf(first));
    expect((await post(`${sidecar.url}/v1/embeddings`, {}, {}, insecureAgent)).status).toBe(200);

    write(second);
    await vi.waitFor(() => expect(sidecar!.logs.some((l) => l.msg === 'TLS certificate reloaded')).toBe(true), { timeout: 10_000 });
    await vi.waitFor(async () => expect(await peerCertificate(sidecar!.url)).toBe(fingerprintOf(second)), { timeout: 10_000 });
  });
});

/**
 * Upstream EPP flags that change the listeners: `--tls-min-version` / `--tls-cipher-suites` on the
 * ext_proc TLS server, `--emit-endpoint-scores` in the dynamic metadata, and
 * `--metrics-cert-dir` / `--metrics-client-ca-file` (HTTPS and mutual TLS on /metrics). Real
 * sockets on 127.0.0.1; raw TLS clients check what the handshake allows.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls, { type ConnectionOptions } from 'node:tls';
import selfsigned from 'selfsigned';
import { afterEach, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { startExtProcServer, type ExtProcServer } from '../../../scheduler/extproc/server.js';
import { NOT_SERVING, SERVING } from '../../../scheduler/extproc/health.js';
import { loadProtos } from '../../../scheduler/extproc/proto.js';
import { ExtProcStreamMetrics } from '../../../scheduler/extproc/stream-metrics.js';
import { Registry } from 'prom-client';
import { fromStruct } from '../../../scheduler/extproc/headers.js';
import { Director } from '../../../scheduler/framework/director.js';
import type { Endpoint } from '../../../scheduler/framework/endpoint.js';
import type { Scorer } from '../../../scheduler/framework/plugins.js';
import { Scheduler } from '../../../scheduler/framework/scheduler.js';
import { startMetricsServer } from '../../../scheduler/metrics-server.js';
import { EppMetrics } from '../../../scheduler/metrics.js';
import { MaxScorePicker } from '../../../scheduler/plugins/pickers/max-score-picker.js';
import { SingleProfileHandler } from '../../../scheduler/plugins/profiles/single-profile-handler.js';
import { opensslCiphers } from '../../../src/http/tls-versions.js';
import type { ListeningServer } from '../../../src/http/server.js';
import { EnvoyLikeClient, isRequestBodyEnd, requestHeaders } from './envoy-client.js';
import { buildDirector, endpoint, silentLogger } from './fixtures.js';
import { poll } from '../../helpers/poll.js';

const closers: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function extProc(options: Partial<Parameters<typeof startExtProcServer>[0]>, director = buildDirector({ endpoints: [endpoint('d', '10.0.0.1', 8000)] }).director): Promise<ExtProcServer> {
  const server = await startExtProcServer({ director, endpoints: () => [], port: 0, host: '127.0.0.1', secure: true, logger: silentLogger, ...options });
  closers.push(() => server.close());
  return server;
}

/** A TLS handshake with the given client settings: the negotiated cipher, or the error. */
function handshake(port: number, options: ConnectionOptions): Promise<{ cipher?: string; version?: string; fingerprint?: string; error?: string }> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', servername: 'localhost', port, rejectUnauthorized: false, ALPNProtocols: ['h2'], ...options });
    socket.once('secureConnect', () => {
      resolve({ cipher: socket.getCipher().standardName, version: socket.getProtocol() ?? undefined, fingerprint: socket.getPeerCertificate().fingerprint256 });
      socket.destroy();
    });
    socket.once('error', (err) => resolve({ error: err.message }));
  });
}

const chat = '{"model":"m","messages":[{"role":"user","content":"hi"}]}';
const chatHeaders = { ':method': 'POST', ':path': '/v1/chat/completions', ':authority': 'gw', 'content-type': 'application/json' };

describe('ext_proc TLS settings', () => {
  it('--tls-min-version=VersionTLS13 refuses a TLS 1.2 client; the default accepts it (control)', async () => {
    const strict = await extProc({ tlsMinVersion: 'TLSv1.3' });
    expect((await handshake(strict.port, { maxVersion: 'TLSv1.2' })).error).toBeDefined();
    expect(await handshake(strict.port, { maxVersion: 'TLSv1.3' })).toMatchObject({ version: 'TLSv1.3' });
    const lenient = await extProc({});
    expect(await handshake(lenient.port, { maxVersion: 'TLSv1.2' })).toMatchObject({ version: 'TLSv1.2' });
  });

  it('--tls-cipher-suites limits TLS 1.2 to the named suites, and ext_proc still works over it', async () => {
    const server = await extProc({ tlsCiphers: opensslCiphers(['TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384']) });
    expect((await handshake(server.port, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' })).error).toBeDefined();
    expect(await handshake(server.port, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256' }))
      .toMatchObject({ cipher: 'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384' });
    const client = new EnvoyLikeClient(server.port, {});
    closers.push(() => client.close());
    const call = client.open();
    call.send(requestHeaders(chatHeaders)).sendBody(chat, 1024);
    const [first] = await call.until(isRequestBodyEnd);
    expect(fromStruct(first!.dynamic_metadata)).toEqual({ 'envoy.lb': { 'x-gateway-destination-endpoint': '10.0.0.1:8000' } });
    call.stream.end();
  });
});

describe('--health-checking', () => {
  const check = (port: number) => new Promise<{ status?: number; code?: number }>((resolve) => {
    const Ctor = grpc.makeGenericClientConstructor(loadProtos().health, 'Health');
    const client = new Ctor(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as grpc.Client & Record<string, (...args: unknown[]) => unknown>;
    client.Check!({ service: 'readiness' }, (err: grpc.ServiceError | null, res: { status?: number }) => {
      client.close();
      resolve(err ? { code: err.code } : { status: res.status });
    });
  });

  it('serves grpc.health.v1 on the ext_proc port, with the EPP\'s readiness; absent by default (control)', async () => {
    let serving = false;
    const withHealth = await extProc({ secure: false, health: { isServing: () => serving } });
    expect(await check(withHealth.port)).toEqual({ status: NOT_SERVING });
    serving = true;
    expect(await check(withHealth.port)).toEqual({ status: SERVING });
    const without = await extProc({ secure: false });
    expect(await check(without.port)).toEqual({ code: grpc.status.UNIMPLEMENTED });
  });
});

describe('--enable-grpc-stream-metrics', () => {
  it('counts open streams, their duration and how they ended', async () => {
    const registry = new Registry();
    const server = await extProc({ secure: false, streamMetrics: new ExtProcStreamMetrics(registry) });
    const client = new EnvoyLikeClient(server.port);
    closers.push(() => client.close());
    const value = async (name: string, labels: Record<string, string> = {}) =>
      (await registry.getSingleMetric(name)!.get()).values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value ?? 0;

    const served = client.open();
    served.send(requestHeaders(chatHeaders)).sendBody(chat, 1024);
    await served.until(isRequestBodyEnd);
    expect(await value('llm_d_epp_extproc_streams_inflight')).toBe(1);
    served.stream.end();
    await served.status;
    const cancelled = client.open();
    cancelled.send(requestHeaders(chatHeaders));
    await poll(async () => (await value('llm_d_epp_extproc_streams_inflight')) === 1 && await value('llm_d_epp_extproc_streams_total', { code: 'OK' }) === 1, { what: 'one stream ended OK, one open' });
    cancelled.stream.cancel();
    await poll(async () => (await value('llm_d_epp_extproc_streams_inflight')) === 0, { what: 'the cancelled stream ended' });
    const codes = (await registry.getSingleMetric('llm_d_epp_extproc_streams_total')!.get()).values;
    expect(codes.reduce((sum, v) => sum + v.value, 0)).toBe(2);
    expect((await registry.metrics())).toMatch(/llm_d_epp_extproc_stream_duration_seconds_count 2/);
  });
});

describe('--grpc-max-recv-msg-size', () => {
  it('a larger message from Envoy ends the stream with RESOURCE_EXHAUSTED; a smaller one is served (control)', async () => {
    const server = await extProc({ secure: false, maxReceiveMessageBytes: 2048 });
    const client = new EnvoyLikeClient(server.port);
    closers.push(() => client.close());
    const small = client.open();
    small.send(requestHeaders(chatHeaders)).sendBody(chat, 1024);
    expect((await small.until(isRequestBodyEnd)).length).toBeGreaterThan(0);
    small.stream.end();
    const big = client.open();
    big.send(requestHeaders(chatHeaders)).sendBody(`{"model":"m","prompt":"${'x'.repeat(8192)}"}`, 8192);
    expect((await big.status).code).toBe(8); // RESOURCE_EXHAUSTED
  });
});

describe('--enable-cert-reload', () => {
  it('a new tls.crt / tls.key in --cert-path is served to new connections without a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'extproc-certs-'));
    const generate = () => selfsigned.generate([{ name: 'commonName', value: 'epp' }], { keyType: 'ec', algorithm: 'sha256' });
    const [first, second] = await Promise.all([generate(), generate()]);
    const install = (pems: { cert: string; private: string }) => {
      writeFileSync(join(dir, 'tls.crt'), pems.cert);
      writeFileSync(join(dir, 'tls.key'), pems.private);
    };
    install(first);
    const server = await extProc({ tls: { cert: first.cert, key: first.private }, certReloadDir: dir, tlsMinVersion: 'TLSv1.3' });
    const fingerprint = async () => (await handshake(server.port, {})).fingerprint;
    const before = await fingerprint();
    expect(before).toBeDefined();
    install(second);
    const after = await poll(async () => {
      const now = await fingerprint();
      return now !== before && now;
    }, { timeoutMs: 10_000, what: 'the new certificate is served' });
    expect(after).toBe(new X509Certificate(second.cert).fingerprint256);
    expect((await handshake(server.port, { maxVersion: 'TLSv1.2' })).error).toBeDefined(); // the minimum version survives the reload
  });
});

describe('--emit-endpoint-scores', () => {
  const pods = [endpoint('a', '10.0.0.1', 8000), endpoint('b', '10.0.0.2', 8000), endpoint('c', '10.0.0.3', 8000)];
  const fixed: Scorer = {
    type: 'fixed-scorer', name: 'fixed',
    score: (_ctx, _request, endpoints: readonly Endpoint[]) => new Map(endpoints.map((e) => [e, ({ a: 0.25, b: 1, c: 0.5 } as Record<string, number>)[e.name]!])),
  };
  const director = (): Director => new Director({
    scheduler: new Scheduler(new SingleProfileHandler(), new Map([['default', { name: 'default', filters: [], scorers: [{ scorer: fixed, weight: 2 }], picker: new MaxScorePicker() }]])),
    endpoints: () => pods,
    logger: silentLogger,
  });

  async function metadataWith(emitEndpointScores: boolean): Promise<unknown> {
    const server = await extProc({ secure: false, emitEndpointScores }, director());
    const client = new EnvoyLikeClient(server.port);
    closers.push(() => client.close());
    const call = client.open();
    call.send(requestHeaders(chatHeaders)).sendBody(chat, 1024);
    const [first] = await call.until(isRequestBodyEnd);
    call.stream.end();
    return fromStruct(first!.dynamic_metadata);
  }

  it('adds every scored endpoint with its weighted score under envoy.lb; off by default (control)', async () => {
    expect(await metadataWith(true)).toEqual({
      'envoy.lb': {
        'x-gateway-destination-endpoint': '10.0.0.2:8000',
        'x-gateway-destination-endpoint-scores': { '10.0.0.1:8000': 0.5, '10.0.0.2:8000': 2, '10.0.0.3:8000': 1 },
      },
    });
    expect(await metadataWith(false)).toEqual({ 'envoy.lb': { 'x-gateway-destination-endpoint': '10.0.0.2:8000' } });
  });
});

describe('/metrics over TLS', () => {
  const dir = mkdtempSync(join(tmpdir(), 'metrics-tls-'));

  async function pki(): Promise<{ certDir: string; caFile: string; client: { cert: string; key: string }; stranger: { cert: string; key: string } }> {
    const ca = await selfsigned.generate([{ name: 'commonName', value: 'test metrics CA' }], {
      keyType: 'ec', algorithm: 'sha256',
      extensions: [{ name: 'basicConstraints', cA: true, critical: true }, { name: 'keyUsage', keyCertSign: true, digitalSignature: true, critical: true }],
    });
    const signed = (cn: string) => selfsigned.generate([{ name: 'commonName', value: cn }], { keyType: 'ec', algorithm: 'sha256', ca: { key: ca.private, cert: ca.cert } });
    const [server, client, stranger] = await Promise.all([signed('127.0.0.1'), signed('prometheus'), selfsigned.generate([{ name: 'commonName', value: 'stranger' }], { keyType: 'ec', algorithm: 'sha256' })]);
    writeFileSync(join(dir, 'tls.crt'), server.cert);
    writeFileSync(join(dir, 'tls.key'), server.private);
    writeFileSync(join(dir, 'ca.pem'), ca.cert);
    return { certDir: dir, caFile: join(dir, 'ca.pem'), client: { cert: client.cert, key: client.private }, stranger: { cert: stranger.cert, key: stranger.private } };
  }

  async function serve(certDir: string, clientCaFile?: string): Promise<ListeningServer> {
    const server = await startMetricsServer(new EppMetrics(), { port: 0, host: '127.0.0.1', certDir, clientCaFile });
    closers.push(() => server.close(0));
    return server;
  }

  function get(port: number, options: https.RequestOptions = {}): Promise<{ status?: number; error?: string }> {
    return new Promise((resolve) => {
      const req = https.get({ host: '127.0.0.1', servername: 'localhost', port, path: '/metrics', rejectUnauthorized: false, agent: false, ...options }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode }));
      });
      req.on('error', (err) => resolve({ error: err.message }));
    });
  }

  it('--metrics-cert-dir serves HTTPS; --metrics-client-ca-file requires a client certificate that CA signed', async () => {
    const keys = await pki();
    const tlsOnly = await serve(keys.certDir);
    expect(tlsOnly.url).toMatch(/^https:/);
    expect(await get(tlsOnly.port)).toEqual({ status: 200 });

    const mutual = await serve(keys.certDir, keys.caFile);
    expect(await get(mutual.port, keys.client)).toEqual({ status: 200 });
    expect((await get(mutual.port)).error).toBeDefined();
    expect((await get(mutual.port, keys.stranger)).error).toBeDefined();
  });

  it('a client CA file without a certificate in it fails the start', async () => {
    const keys = await pki();
    writeFileSync(join(dir, 'empty-ca.pem'), 'not a certificate\n');
    await expect(startMetricsServer(new EppMetrics(), { port: 0, host: '127.0.0.1', certDir: keys.certDir, clientCaFile: join(dir, 'empty-ca.pem') }))
      .rejects.toThrow('no valid CA certs in metrics client CA file');
  });
});

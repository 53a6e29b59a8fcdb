/**
 * The EPP reports ready only once the precise prefix cache has loaded the tokenizers its config
 * names in every worker, and a tokenizer that cannot load fails start-up.
 *
 * The tokenizer file of the first test is a named pipe (mkfifo): once the worker has opened it
 * (the test can then open the write end without blocking), its load waits until the test writes
 * the tiny fixture tokenizer into it, so "loading" lasts exactly as long as the test wants — the EPP is checked NOT_SERVING while it lasts, SERVING after, and the first
 * request then gets precise prefix (`pd_router_precise_prefix_matches_total{outcome="scored"}`).
 * No timing assertions: every step waits on what it observes.
 */
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, constants, copyFileSync, mkdtempSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NOT_SERVING, SERVING } from '../../scheduler/extproc/health.js';
import { loadProtos } from '../../scheduler/extproc/proto.js';
import { startEpp, type RunningEpp } from '../../scheduler/main.js';
import type { PrecisePrefixCacheScorer } from '../../scheduler/plugins/scorers/precise-prefix-cache-scorer.js';
import { TINY_MODEL, TINY_MODEL_DIR } from '../fixtures/tiny-model/build.js';
import { poll } from '../helpers/poll.js';
import { CLI, startCli, type RunningProcess } from '../helpers/processes.js';
import { captureLogger } from '../scheduler/helpers.js';
import { metricValue } from './stack.js';

const READINESS = 'envoy.service.ext_proc.v3.ExternalProcessor';
const MATCHES = 'pd_router_precise_prefix_matches_total';

function config(tokenizerDir: string): string {
  return `
apiVersion: llm-d.ai/v1alpha1
kind: EndpointPickerConfig
plugins:
- type: single-profile-handler
- type: precise-prefix-cache-scorer
  parameters:
    tokenProcessorConfig: {blockSize: 2}
    kvEventsConfig: {discoverPods: false}
    tokenizer: {modelTokenizerMap: {${JSON.stringify(TINY_MODEL)}: ${JSON.stringify(tokenizerDir)}}}
    tokenizerPool: {workers: 1}
- type: max-score-picker
schedulingProfiles:
- name: default
  plugins: [{pluginRef: precise-prefix-cache-scorer}, {pluginRef: max-score-picker}]
`;
}

type HealthClient = grpc.Client & { Check: (request: { service: string }, callback: (err: Error | null, res: { status?: number }) => void) => void };

function healthClient(port: number): HealthClient {
  const Ctor = grpc.makeGenericClientConstructor(loadProtos().health, 'Health');
  return new Ctor(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as HealthClient;
}

const check = (client: HealthClient, service: string): Promise<number> =>
  new Promise((resolve, reject) => client.Check({ service }, (err, res) => (err ? reject(err) : resolve(res.status ?? 0))));

/** The write end of the pipe once a reader (the tokenizer worker) has it open; undefined before. */
function writerOnceRead(pipe: string): number | undefined {
  try {
    return openSync(pipe, constants.O_WRONLY | constants.O_NONBLOCK);
  } catch {
    return undefined; // ENXIO: no reader yet
  }
}

/** A model directory whose tokenizer.json is a named pipe (tokenizer_config.json is the tiny model's). */
function pipedModelDir(): { dir: string; pipe: string } {
  const dir = mkdtempSync(join(tmpdir(), 'ready-tok-'));
  copyFileSync(join(TINY_MODEL_DIR, 'tokenizer_config.json'), join(dir, 'tokenizer_config.json'));
  const pipe = join(dir, 'tokenizer.json');
  execFileSync('mkfifo', [pipe]);
  return { dir, pipe };
}

function endpointsFile(port: number): string {
  const file = join(mkdtempSync(join(tmpdir(), 'ready-eps-')), 'endpoints.json');
  writeFileSync(file, JSON.stringify({ endpoints: [{ name: 'pod-0', address: '127.0.0.1', port }] }));
  return file;
}

let sim: RunningProcess;
const epps: RunningEpp[] = [];

beforeAll(async () => {
  sim = await startCli(['sim', '--port', '0', '--host', '127.0.0.1', '--model', TINY_MODEL]);
});

afterAll(async () => {
  await Promise.all(epps.map((epp) => epp.close()));
  await sim?.stop(500);
});

describe('readiness waits for the tokenizers', () => {
  it('is NOT_SERVING while a worker loads the configured tokenizer, SERVING after; the first request is scored with precise prefix', async () => {
    const { dir, pipe } = pipedModelDir();
    const { logger, records } = captureLogger('info');
    const epp = await startEpp({
      configText: config(dir), endpointsFile: endpointsFile(sim.port), host: '127.0.0.1',
      gatewayPort: 0, grpcPort: -1, grpcHealthPort: 0, metricsPort: 0, secureServing: false,
    }, logger);
    epps.push(epp);
    const plugin = epp.plugins.get('precise-prefix-cache-scorer') as PrecisePrefixCacheScorer;
    const client = healthClient(epp.ports.health!);
    let writer: number | undefined;
    try {
      // Everything else is up: endpoints synced, index and event path started.
      await poll(() => epp.store.synced && epp.store.list().length === 1 && plugin.index !== undefined, { what: 'endpoints and index' });
      // The worker is reading the pipe, which has no data yet: not ready, but alive.
      writer = await poll(() => writerOnceRead(pipe), { what: 'the tokenizer worker reading tokenizer.json' });
      expect(await check(client, READINESS)).toBe(NOT_SERVING);
      expect(await check(client, 'liveness')).toBe(SERVING);
      expect(records.some((r) => r.msg === 'tokenizers loaded in every worker')).toBe(false);

      writeSync(writer, readFileSync(join(TINY_MODEL_DIR, 'tokenizer.json'))); // < the pipe's 64 KiB buffer
      closeSync(writer);
      writer = undefined;
      await poll(async () => (await check(client, READINESS)) === SERVING, { what: 'health SERVING' });
      await epp.started;
      const loaded = records.find((r) => r.msg === 'tokenizers loaded in every worker');
      expect(loaded).toMatchObject({ plugin: 'precise-prefix-cache-scorer', models: [TINY_MODEL], workers: 1 });
      expect(typeof loaded!.ms).toBe('number');

      const metricsUrl = `http://127.0.0.1:${epp.ports.metrics}/metrics`;
      const response = await fetch(`${epp.gatewayUrl}/v1/chat/completions`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: TINY_MODEL, messages: [{ role: 'user', content: 'hello world how are you the weather is sunny' }], max_tokens: 1 }),
      });
      expect(response.status).toBe(200);
      await response.arrayBuffer();
      expect(await metricValue(metricsUrl, MATCHES, { outcome: 'scored' })).toBe(1);
      expect(await metricValue(metricsUrl, MATCHES)).toBe(1);
    } finally {
      if (writer !== undefined) closeSync(writer); // a failed test: the worker reads end-of-file
      client.close();
    }
  });

  it('a tokenizer.json that does not parse fails start-up, naming the model and its directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ready-bad-'));
    copyFileSync(join(TINY_MODEL_DIR, 'tokenizer_config.json'), join(dir, 'tokenizer_config.json'));
    writeFileSync(join(dir, 'tokenizer.json'), '{"model": ');
    const { logger } = captureLogger('info');
    const epp = await startEpp({
      configText: config(dir), endpointsFile: endpointsFile(sim.port), host: '127.0.0.1',
      gatewayPort: -1, grpcPort: -1, grpcHealthPort: 0, metricsPort: -1, secureServing: false,
    }, logger);
    epps.push(epp);
    const error = await epp.started.then(() => undefined, (err: unknown) => err as Error);
    expect(error?.message).toContain('precise-prefix-cache-scorer');
    expect(error?.message).toContain(TINY_MODEL);
    expect(error?.message).toContain(dir);
    const client = healthClient(epp.ports.health!);
    try {
      expect(await check(client, READINESS)).toBe(NOT_SERVING);
    } finally {
      client.close();
    }
  });
});

describe('pd-router epp', () => {
  it('exits 1 when a configured tokenizer directory has no tokenizer, saying which', async () => {
    const configFile = join(mkdtempSync(join(tmpdir(), 'ready-cfg-')), 'config.yaml');
    const missing = join(tmpdir(), 'pd-router-no-such-model-dir');
    writeFileSync(configFile, config(missing));
    const child = spawn(process.execPath, [CLI, 'epp', '--config', configFile, '--endpoints', endpointsFile(sim.port), '--host', '127.0.0.1',
      '--gateway-port', '0', '--grpc-port', '-1', '--grpc-health-port', '0', '--metrics-port', '-1'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(1);
    expect(stderr).toMatch(/pd-router epp: failed to start: plugin "precise-prefix-cache-scorer".*cannot load the tokenizer of tiny\/test-model from .*pd-router-no-such-model-dir/);
  });
});

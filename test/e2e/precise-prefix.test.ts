/**
 * Precise prefix-cache routing end to end with real processes: a prefill sim and two decode pods
 * (sim + sidecar each, on their own loopback "pod IPs" 127.0.0.x so the sims' KV-event topics
 * `kv@<pod ip>:<port>` name the endpoints the EPP scores), publishing real ZeroMQ KV events to the
 * EPP's bound SUB (config/precise-prefix-epp-config.yaml, global mode).
 *
 *  - memory index: a multi-turn conversation keeps landing on the pod that holds it even after that
 *    pod looks busier than the other; its later, mostly cached turns go decode-only (EPP metric,
 *    and the prefill sim sees nothing) while its first turn went P/D;
 *  - Redis index (real redis-server): the same, with turns 2 and 3 sent to a second EPP that
 *    receives no events at all and only reads the index EPP A fills;
 *  - real Qwen3 tokenizer in the sims (`--tokenizer`) and in the EPP, when the sim has that flag.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CONFIG_FIELDS } from '../../src/sim/config-fields.js';
import { resolveTokenizerDir } from '../../src/tokenization/model-files.js';
import { ensureModels, QWEN3 } from '../helpers/models.js';
import type { RunningProcess } from '../helpers/processes.js';
import { startRedisServer, type RedisServer } from '../helpers/redis.js';
import { MODEL, metricValue, startEppProcess, startPdStack, type PdStack } from './stack.js';
import { poll } from '../helpers/poll.js';
import { freePort } from '../../src/http/free-port.js';

const EXAMPLE = fileURLToPath(new URL('../../config/precise-prefix-epp-config.yaml', import.meta.url));
const PRECISE = 'precise-prefix-cache-scorer';
const DECODE_IPS = ['127.0.0.11', '127.0.0.12'];

interface PreciseOverrides {
  zmqEndpoint: string;
  redis?: string;
  tokenizer: Record<string, unknown>;
}

/** The example config with the test's event address, index and tokenizer; written to a temp file. */
function writeConfig(overrides: PreciseOverrides): string {
  const config = parse(readFileSync(EXAMPLE, 'utf8')) as { plugins: Array<{ type: string; parameters: Record<string, unknown> }> };
  const precise = config.plugins.find((plugin) => plugin.type === PRECISE)!.parameters;
  precise.kvEventsConfig = overrides.zmqEndpoint === ''
    ? { zmqEndpoint: '', discoverPods: false } // only reads the shared index
    : { ...(precise.kvEventsConfig as object), zmqEndpoint: overrides.zmqEndpoint };
  if (overrides.redis !== undefined) {
    (precise.indexerConfig as Record<string, unknown>).kvBlockIndexConfig = { inMemoryConfig: null, redisConfig: { address: overrides.redis } };
  }
  precise.tokenizer = overrides.tokenizer;
  // Every completed request is a parity sample, checked half a second after its response.
  precise.parity = { sampleEvery: 1, delay: '500ms' };
  const file = join(mkdtempSync(join(tmpdir(), 'precise-e2e-')), 'epp.json');
  writeFileSync(file, JSON.stringify(config));
  return file;
}


async function until(condition: () => Promise<boolean> | boolean, what: string, timeoutMs = 10_000): Promise<void> {
  await poll(condition, { what, timeoutMs, intervalMs: 25 });
}

/** Requests a sim has received (its debug `request` log lines). */
const served = (sim: RunningProcess): number => sim.logs.filter((line) => line.msg === 'request').length;

/**
 * Words of 3 characters + a space ("w42 "): one simulated token per 4 bytes, so the decider's
 * bytes/4 token estimate (llm-d's rule; roughly right for BPE tokenizers on English) matches what
 * the simulated tokenizer counts, as it would for a real model.
 */
function words(count: number, seed: number): string {
  return Array.from({ length: count }, (_, i) => `w${String((seed * 7919 + i * 104729) % 100).padStart(2, '0')}`).join(' ');
}

interface Message { role: string; content: string }

interface Epp {
  gatewayUrl: string;
  metricsUrl: string;
}

async function chat(epp: Epp, model: string, messages: Message[]): Promise<{ reply: string; cachedTokens: number }> {
  const response = await fetch(`${epp.gatewayUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages, max_tokens: 6 }),
  });
  expect(response.status, await response.clone().text()).toBe(200);
  const body = (await response.json()) as { choices: Array<{ message: { content: string } }>; usage?: { prompt_tokens_details?: { cached_tokens?: number } } };
  return { reply: body.choices[0]!.message.content, cachedTokens: body.usage?.prompt_tokens_details?.cached_tokens ?? 0 };
}

const eppMetric = (epp: Epp, name: string, labels?: Record<string, string>) => metricValue(epp.metricsUrl, name, labels);
const storedEvents = (epp: Epp) => eppMetric(epp, 'llm_d_kv_cache_events_processed_total', { type: 'BlockStored' });
const decisions = (epp: Epp, type: string) => eppMetric(epp, 'llm_d_inference_scheduler_disagg_decision_total', { decision_type: type });

interface Scenario {
  model: string;
  stack: PdStack;
  /** The EPP receiving the events (and turn 1). */
  writer: Epp;
  /** The EPP turns 2 and 3 go to (the writer, or a replica sharing its Redis index). */
  reader: Epp;
}

/**
 * The EPP binds its SUB after the sims started; their PUBs reconnect within a second and drop
 * events until then. Prime each sim directly until one of its events has been applied.
 */
async function primeEvents({ stack, writer, model }: Scenario): Promise<void> {
  for (const [i, sim] of [stack.prefill, ...stack.decodeSims].entries()) {
    let attempt = 0;
    await until(async () => {
      const before = await storedEvents(writer);
      const response = await fetch(`${sim.url}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model, prompt: words(40, 1000 + i * 100 + attempt++), max_tokens: 1 }),
      });
      await response.text();
      const deadline = Date.now() + 400;
      while (Date.now() < deadline) {
        if ((await storedEvents(writer)) > before) return true;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      return false;
    }, `KV events from sim ${i}`, 15_000);
  }
}

/** Which decode sim served the requests `send` makes (exactly one must have). */
async function servedBy(stack: PdStack, send: () => Promise<unknown>): Promise<number> {
  const before = stack.decodeSims.map(served);
  await send();
  // The log line is written before the answer; allow the pipe a moment.
  let after = stack.decodeSims.map(served);
  await until(() => {
    after = stack.decodeSims.map(served);
    return after.some((count, i) => count > before[i]!);
  }, 'the serving sim\'s log line', 2_000);
  const changed = after.map((count, i) => count - before[i]!);
  expect(changed.filter((delta) => delta > 0)).toEqual([1]);
  return changed.findIndex((delta) => delta > 0);
}

/**
 * Turn 1 goes P/D to some decode pod X. X then reports a long waiting queue, so a cold request now
 * prefers the other pod — but turns 2 and 3, which share X's cached prefix, still land on X, and
 * go decode-only because nearly all of their input is cached there.
 */
async function multiTurn(scenario: Scenario): Promise<void> {
  const { stack, writer, reader, model } = scenario;
  const prefillBefore = served(stack.prefill);
  const pdBefore = await decisions(writer, 'prefill-decode');
  const messages: Message[] = [{ role: 'user', content: `${words(300, 1)}. Summarise the above.` }];

  let events = await storedEvents(writer);
  let turn = { reply: '', cachedTokens: 0 };
  const holder = await servedBy(stack, async () => {
    turn = await chat(writer, model, messages);
  });
  expect(await decisions(writer, 'prefill-decode')).toBe(pdBefore + 1);
  expect(served(stack.prefill)).toBe(prefillBefore + 1);
  await until(async () => (await storedEvents(writer)) >= events + 2, 'turn 1 blocks (prefill and decode pod) in the index');

  // The holder now looks busy to every EPP: a cold request prefers the other pod.
  const holderSim = stack.decodeSims[holder]!;
  const admin = await fetch(`${holderSim.url}/admin/config`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ 'fake-metrics': { 'waiting-requests': 20 } }),
  });
  expect(admin.status).toBe(200);
  let seed = 50;
  await until(async () => (await servedBy(stack, () => chat(reader, model, [{ role: 'user', content: words(5, seed++) }]))) !== holder,
    'the reader EPP to see the holder\'s load');

  for (const next of ['And now in one sentence?', 'Thanks. One more detail, please.']) {
    messages.push({ role: 'assistant', content: turn.reply }, { role: 'user', content: next });
    const decodeOnlyBefore = await decisions(reader, 'decode-only');
    const prefillSeen = served(stack.prefill);
    events = await storedEvents(writer);
    const pod = await servedBy(stack, async () => {
      turn = await chat(reader, model, messages);
    });
    expect(pod, 'a follow-up turn lands on the pod holding its prefix, busy or not').toBe(holder);
    expect(turn.cachedTokens).toBeGreaterThan(200);
    expect(await decisions(reader, 'decode-only')).toBe(decodeOnlyBefore + 1);
    expect(served(stack.prefill), 'a mostly cached conversation needs no prefill pod').toBe(prefillSeen);
    await until(async () => (await storedEvents(writer)) >= events + 1, 'the new turn\'s blocks in the index');
  }
}

const simDebug = (service: string): Record<string, string> => (service.startsWith('sim-') ? { LOG_LEVEL: 'debug' } : {});

async function startPreciseStack(options: { redis?: string; model?: string; simArgs?: string[]; tokenizer: Record<string, unknown> }): Promise<{ stack: PdStack; zmq: string }> {
  const zmq = `tcp://127.0.0.1:${await freePort()}`;
  const config = writeConfig({ zmqEndpoint: zmq, tokenizer: options.tokenizer, ...(options.redis ? { redis: options.redis } : {}) });
  const stack = await startPdStack({
    decodePods: 2,
    decodeAddress: (i) => DECODE_IPS[i]!,
    config,
    env: simDebug,
    // Fixed (fake) load metrics, so the test can make one pod look busy (POST /admin/config).
    simArgs: ['--zmq-endpoint', zmq, '--event-batch-size', '1', '--fake-metrics', '{"waiting-requests":0}', ...(options.simArgs ?? [])],
  });
  await stack.epp.waitForLog((line) => line.msg === 'precise-prefix-cache-scorer ready');
  return { stack, zmq };
}

describe('precise prefix-cache routing, in-memory index', () => {
  let stack: PdStack | undefined;
  beforeAll(async () => {
    ({ stack } = await startPreciseStack({ tokenizer: { type: 'simulated' } }));
  });
  afterAll(async () => stack?.stop());

  it('keeps a conversation on the pod holding its prefix; mostly cached turns go decode-only', async () => {
    const scenario: Scenario = { model: MODEL, stack: stack!, writer: stack!, reader: stack! };
    await primeEvents(scenario);
    await multiTurn(scenario);
    // Parity: the sims' events carry exactly the keys the EPP computed for the requests it routed.
    await until(async () => (await eppMetric(stack!, 'pd_router_precise_prefix_parity_samples_total', { model: MODEL })) >= 3, 'parity samples');
    expect(await eppMetric(stack!, 'pd_router_precise_prefix_parity_ratio', { model: MODEL })).toBe(1);
    expect(await eppMetric(stack!, 'llm_d_kv_cache_index_size')).toBeGreaterThan(0);
    expect(await eppMetric(stack!, 'llm_d_kv_cache_index_lookup_hits_total')).toBeGreaterThan(0);
    expect(await eppMetric(stack!, 'llm_d_kv_cache_events_dropped_total')).toBe(0);
  });
});

describe('parity with simulators that tokenize differently from the EPP', () => {
  let stack: PdStack | undefined;
  beforeAll(async () => {
    // The sims use their simulated tokenizer; the EPP tokenizes the same model name with Qwen3's.
    // (A different engine hash seed does not break parity, nor a different block size on turns
    // aligned to ours: the EPP re-keys the events' token ids at its own block size. The misaligned
    // case is in test/kvcache/precise/service.test.ts.)
    const qwen3 = resolveTokenizerDir(join(await ensureModels(), `models--${QWEN3.replace('/', '--')}`))!;
    ({ stack } = await startPreciseStack({ tokenizer: { type: 'local', modelTokenizerMap: { [MODEL]: qwen3 } } }));
  });
  afterAll(async () => stack?.stop());

  it('the parity metric drops and the EPP warns', async () => {
    const epp: Epp = stack!;
    let seed = 900;
    // Requests until the sims' events reach the EPP (their PUBs reconnect after it binds).
    await until(async () => {
      await chat(epp, MODEL, [{ role: 'user', content: words(120, seed++) }]);
      return (await eppMetric(epp, 'llm_d_kv_cache_events_messages_received_total')) > 0;
    }, 'the sims\' events', 20_000);
    await new Promise((resolve) => setTimeout(resolve, 600)); // earlier samples settle
    const before = await eppMetric(epp, 'pd_router_precise_prefix_parity_samples_total', { model: MODEL });
    // (The first requests may be scored late while the EPP loads Qwen3's tokenizer: not sampled.)
    await until(async () => {
      await chat(epp, MODEL, [{ role: 'user', content: words(120, seed++) }]);
      return (await eppMetric(epp, 'pd_router_precise_prefix_parity_samples_total', { model: MODEL })) >= before + 2;
    }, 'two more parity samples', 20_000);
    expect(await eppMetric(epp, 'llm_d_kv_cache_events_processed_total', { type: 'BlockStored' })).toBeGreaterThan(0);
    expect(await eppMetric(epp, 'pd_router_precise_prefix_parity_ratio', { model: MODEL })).toBe(0);
    expect(stack!.epp.logs.some((line) => String(line.msg).includes('disagree'))).toBe(true);
  });
});

describe('precise prefix-cache routing, Redis index shared by two EPPs', () => {
  let redis: RedisServer | undefined;
  let stack: PdStack | undefined;
  let replica: RunningProcess | undefined;
  let reader: Epp;
  beforeAll(async () => {
    redis = await startRedisServer();
    ({ stack } = await startPreciseStack({ redis: redis.url, tokenizer: { type: 'simulated' } }));
    const config = writeConfig({ zmqEndpoint: '', redis: redis.url, tokenizer: { type: 'simulated' } });
    const started = await startEppProcess({ config, endpointsFile: stack.endpointsFile });
    replica = started.epp;
    reader = started;
    await replica.waitForLog((line) => line.msg === 'precise-prefix-cache-scorer ready');
  });
  afterAll(async () => {
    await replica?.stop();
    await stack?.stop();
    await redis?.stop();
  });

  it('EPP B, receiving no events, routes where EPP A\'s traffic left the prefix', async () => {
    const scenario: Scenario = { model: MODEL, stack: stack!, writer: stack!, reader };
    await primeEvents(scenario);
    await multiTurn(scenario);
    expect(await eppMetric(reader, 'llm_d_kv_cache_events_messages_received_total')).toBe(0);
    expect(await eppMetric(reader, 'llm_d_kv_cache_index_lookup_hits_total')).toBeGreaterThan(0);
    expect(await eppMetric(reader, 'llm_d_kv_cache_index_size')).toBe(await eppMetric(stack!, 'llm_d_kv_cache_index_size'));
  });
});

const simHasTokenizer = CONFIG_FIELDS.some((field) => field.flag === 'tokenizer');

describe.runIf(simHasTokenizer)('precise prefix-cache routing with the real Qwen3 tokenizer in sims and EPP', () => {
  let stack: PdStack | undefined;
  beforeAll(async () => {
    const models = await ensureModels();
    ({ stack } = await startPreciseStack({
      simArgs: ['--model', QWEN3, '--tokenizer', join(models, `models--${QWEN3.replace('/', '--')}`)],
      tokenizer: { type: 'local', tokenizersDir: models },
    }));
  });
  afterAll(async () => stack?.stop());

  it('indexes and matches the same token ids vLLM would use', async () => {
    const epp: Epp = stack!;
    const scenario: Scenario = { model: QWEN3, stack: stack!, writer: epp, reader: epp };
    await primeEvents(scenario);
    // The EPP loads the tokenizer on first use; until then requests score 0.
    await until(async () => {
      await chat(epp, QWEN3, [{ role: 'user', content: `warm up ${words(30, 3)}` }]); // ≥ 1 full block, or nothing is looked up
      return (await eppMetric(epp, 'llm_d_kv_cache_index_lookups_total')) > 0;
    }, 'the EPP tokenizer to load', 15_000);
    const messages: Message[] = [{ role: 'user', content: `${words(200, 7)}. Summarise the above.` }];
    let events = await storedEvents(epp);
    const first = await chat(epp, QWEN3, messages);
    await until(async () => (await storedEvents(epp)) >= events + 2, 'turn 1 blocks in the index');
    messages.push({ role: 'assistant', content: first.reply }, { role: 'user', content: 'Shorter, please.' });
    events = await storedEvents(epp);
    const decodeOnly = await decisions(epp, 'decode-only');
    const second = await chat(epp, QWEN3, messages);
    expect(second.cachedTokens).toBeGreaterThan(200);
    expect(await decisions(epp, 'decode-only')).toBe(decodeOnly + 1);
    expect(await eppMetric(epp, 'llm_d_kv_cache_index_lookup_hits_total')).toBeGreaterThan(0);
  });
});

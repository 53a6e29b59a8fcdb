/**
 * The routing benchmark's cluster (bench/routing.ts): N decode simulators in this process, the
 * EPP (in-process, built-in HTTP gateway) in front of them with one strategy's configuration, and
 * the oracle router that reads every simulator's KV cache directly.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEpp, type RunningEpp } from '../scheduler/main.js';
import { createLogger } from '../src/log.js';
import { kvEventsTopic, ZmqKvEventPublisher } from '../src/sim/kv-events-publisher.js';
import { startSimulator, type RunningSimulator } from '../src/sim/simulator.js';
import type { ChatCompletionsBody, ChatMessage as OpenAIChatMessage } from '../src/openai/types.js';
import { resolveTokenizerDir } from '../src/sim/real-tokenizer.js';
import type { KvEventSink } from '../src/sim/kv-events.js';
import { DelayedKvEventSink } from './delayed-kv-sink.js';
import type { ChatMessage } from './routing-workload.js';
import { numberArg } from './args.js';

export const MODEL = 'Qwen/Qwen3-0.6B';
export const BLOCK_SIZE = 16;

export interface SimShape {
  sims: number;
  maxNumSeqs: number;
  kvCacheSize: number;
  /** ms per uncached prompt token. */
  prefillMsPerToken: number;
  interTokenLatencyMs: number;
  timeFactorUnderLoad: number;
  seed: number;
  /**
   * A real tokenizer directory (sim `--tokenizer`; the precise EPP then tokenizes with the same
   * files, `tokenizer.type: local`). Unset: the simulated tokenizer on both sides.
   */
  tokenizer?: string;
  /** Context window of each sim (default 32768). */
  maxModelLen?: number;
  /** KV events reach the EPP this much after admission (vLLM: after the prefill; default 0). */
  kvEventDelayMs?: number;
}

/** Defaults of the simulator flags a routing benchmark takes (`simShapeOptions`). */
export interface SimShapeDefaults {
  sims: number;
  maxNumSeqs: number;
  kvCacheSize: number;
  prefillMsPerToken: number;
  itlMs: number;
}

/** The simulator flags of a routing benchmark, for node:util parseArgs (values are strings). */
export function simShapeOptions(defaults: SimShapeDefaults) {
  const text = (value: number) => ({ type: 'string' as const, default: String(value) });
  return {
    sims: text(defaults.sims),
    'max-num-seqs': text(defaults.maxNumSeqs),
    'kv-cache-size': text(defaults.kvCacheSize),
    'prefill-ms-per-token': text(defaults.prefillMsPerToken),
    'itl-ms': text(defaults.itlMs),
    tokenizer: { type: 'string' as const },
    seed: text(42),
  };
}

/** The SimShape those flags give, plus what the benchmark sets itself. */
export function simShapeOf(values: Readonly<Record<string, unknown>>, rest: Omit<SimShape, 'sims' | 'maxNumSeqs' | 'kvCacheSize' | 'prefillMsPerToken' | 'interTokenLatencyMs' | 'seed' | 'tokenizer'>): SimShape {
  return {
    sims: numberArg(values, 'sims'),
    maxNumSeqs: numberArg(values, 'max-num-seqs'),
    kvCacheSize: numberArg(values, 'kv-cache-size'),
    prefillMsPerToken: numberArg(values, 'prefill-ms-per-token'),
    interTokenLatencyMs: numberArg(values, 'itl-ms'),
    seed: numberArg(values, 'seed'),
    ...(typeof values.tokenizer === 'string' ? { tokenizer: values.tokenizer } : {}),
    ...rest,
  };
}

export type StrategyName = 'random' | 'load' | 'approx' | 'precise' | 'oracle';

const silent = createLogger('bench', 'silent');

/** A free TCP port on 127.0.0.1 (for the EPP's KV-event SUB socket, which the sims dial). */

/**
 * Starts the simulators: echo mode (the answer repeats the last user message, so conversations are
 * identical whatever the routing), per-token prefill on uncached tokens, finite KV cache. With
 * `kvEventsEndpoint`, each publishes its KV events like vLLM (PUB connecting to the EPP, topic
 * `kv@127.0.0.1:<port>@<model>`, one event per batch so the index is as fresh as vLLM's per-step
 * publishing).
 */
export async function startSims(shape: SimShape, kvEventsEndpoint?: string): Promise<RunningSimulator[]> {
  const sims: RunningSimulator[] = [];
  for (let i = 0; i < shape.sims; i++) {
    sims.push(await startSimulator({
      model: MODEL,
      host: '127.0.0.1',
      port: 0,
      seed: BigInt(shape.seed + i),
      mode: 'echo',
      maxNumSeqs: shape.maxNumSeqs,
      maxModelLen: shape.maxModelLen ?? 32_768,
      enableKvcache: true,
      kvCacheSize: shape.kvCacheSize,
      blockSize: BLOCK_SIZE,
      podIp: '127.0.0.1',
      podName: `sim-${i}`,
      latencyCalculator: 'per-token',
      prefillTimePerToken: shape.prefillMsPerToken,
      interTokenLatency: shape.interTokenLatencyMs,
      timeFactorUnderLoad: shape.timeFactorUnderLoad,
      tokenizer: shape.tokenizer ?? '',
    }, {
      logger: silent,
      ...(kvEventsEndpoint ? {
        kvEventSink: async ({ port }: { port: number }) => delayed(await ZmqKvEventPublisher.open({
          endpoint: kvEventsEndpoint,
          topic: kvEventsTopic('127.0.0.1', port, MODEL),
          bind: false,
          eventBatchSize: 1,
          encoding: 'positional',
          dataParallelRank: 0,
          reconnectIntervalMs: 100,
          logger: silent,
        }), shape.kvEventDelayMs ?? 0),
      } : {}),
    }));
  }
  return sims;
}

function delayed(sink: KvEventSink, delayMs: number): KvEventSink {
  return delayMs > 0 ? new DelayedKvEventSink(sink, delayMs) : sink;
}

const HEADER = 'apiVersion: llm-d.ai/v1alpha1\nkind: EndpointPickerConfig\n';

/** Scorer weights shared by the prefix strategies (llm-d's guides: prefix 2–3, load scorers 1–2). */
export const WEIGHTS = { prefix: 2, queue: 1, kvUtilization: 1 };

function profile(plugins: Array<[string, number?]>): string {
  const refs = plugins.map(([ref, weight]) => `  - pluginRef: ${ref}${weight === undefined ? '' : `\n    weight: ${weight}`}`).join('\n');
  return `schedulingProfiles:\n- name: default\n  plugins:\n${refs}\n`;
}

const LOAD_PLUGINS = '- type: queue-scorer\n- type: kv-cache-utilization-scorer\n- type: max-score-picker\n';
const LOAD_REFS: Array<[string, number?]> = [['queue-scorer', WEIGHTS.queue], ['kv-cache-utilization-scorer', WEIGHTS.kvUtilization], ['max-score-picker']];

/** Precise only: speculative guesses off, for the tokenized part only (`head`), or with the background tail. */
export type Speculative = 'off' | 'head' | 'tail';

function speculativeParameters(speculative: Speculative): string {
  if (speculative === 'off') return '';
  return `    speculativeIndexing: true\n    speculativeTail: ${speculative === 'tail'}\n`;
}

/** The EndpointPickerConfig of each EPP strategy. */
export function eppConfig(strategy: Exclude<StrategyName, 'oracle'>, kvEventsEndpoint: string, tokenizer?: string, speculative: Speculative = 'off'): string {
  switch (strategy) {
    case 'random':
      return `${HEADER}plugins:\n- type: random-picker\n${profile([['random-picker']])}`;
    case 'load':
      return `${HEADER}plugins:\n${LOAD_PLUGINS}${profile(LOAD_REFS)}`;
    case 'approx':
      // The loader injects approx-prefix-cache-producer with its defaults: it estimates each pod's
      // cache from its own routing history, its per-pod LRU sized from the pods' cache_config_info.
      return `${HEADER}plugins:\n- type: prefix-cache-scorer\n${LOAD_PLUGINS}` +
        profile([['prefix-cache-scorer', WEIGHTS.prefix], ...LOAD_REFS]);
    case 'precise':
      // The index is fed by the sims' KV events (global mode: the EPP binds, pods connect); the
      // EPP tokenizes like the simulators: their simulated tokenizer, or the same real one.
      return `${HEADER}plugins:\n- type: precise-prefix-cache-scorer\n  parameters:\n    tokenizer:\n` +
        (tokenizer ? `      type: local\n      modelTokenizerMap:\n        ${MODEL}: ${JSON.stringify(resolveTokenizerDir(tokenizer))}\n` : '      type: simulated\n') +
        `    tokenProcessorConfig:\n      blockSize: ${BLOCK_SIZE}\n      hashSeed: ""\n` +
        `    kvEventsConfig:\n      zmqEndpoint: ${kvEventsEndpoint}\n      topicFilter: "kv@"\n      discoverPods: false\n` + speculativeParameters(speculative) +
        `${LOAD_PLUGINS}${profile([['precise-prefix-cache-scorer', WEIGHTS.prefix], ...LOAD_REFS])}`;
  }
}

export interface EppHandle {
  epp: RunningEpp;
  gatewayUrl: string;
  close(): Promise<void>;
}

/** An in-process EPP for benchmarks: built-in gateway only, on 127.0.0.1, logs silent unless BENCH_EPP_LOG. */
export function startBenchEpp(configText: string, endpointsFile: string, refreshMetricsIntervalMs: number): Promise<RunningEpp> {
  return startEpp({
    configText,
    endpointsFile,
    host: '127.0.0.1',
    gatewayPort: 0,
    grpcPort: -1,
    grpcHealthPort: -1,
    metricsPort: -1,
    secureServing: false,
    refreshMetricsIntervalMs,
  }, createLogger('epp', process.env.BENCH_EPP_LOG ?? 'silent'));
}

/** The EPP with one strategy's config and a static endpoints file listing the sims. */
export async function startRoutingEpp(config: string, sims: readonly RunningSimulator[]): Promise<EppHandle> {
  const dir = mkdtempSync(join(tmpdir(), 'pd-router-routing-'));
  const endpointsFile = join(dir, 'endpoints.yaml');
  writeFileSync(endpointsFile, `endpoints:\n${sims.map((sim, i) => `- name: sim-${i}\n  address: 127.0.0.1\n  port: ${sim.port}\n`).join('')}`);
  const epp = await startBenchEpp(config, endpointsFile, 50);
  return {
    epp,
    gatewayUrl: `${epp.gatewayUrl!}/v1/chat/completions`,
    async close() {
      await epp.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The oracle: perfect, instantaneous knowledge of every simulator's KV cache. For each request it
 * computes the simulator's own block keys for the prompt and sends it to the simulator holding
 * the most of them (exactly the `cached_tokens` that simulator would report if admission happened
 * now); ties go to the one with the fewest running + waiting requests, then the lowest index.
 * A greedy hit-rate upper bound for routers that only see what is cached — it ignores load.
 */
export function oracleRoute(sims: readonly RunningSimulator[]): (messages: readonly ChatMessage[]) => Promise<string> {
  return async (messages) => {
    // The ids the simulators compute for this chat (simulated or --tokenizer).
    const chat = messages as OpenAIChatMessage[];
    const { ids } = await sims[0]!.engine.tokenizePrompt({ kind: 'chat', messages: chat, body: { model: MODEL, messages: chat } as ChatCompletionsBody });
    const first = sims[0]!.engine.kvCache!;
    const keys = first.keysFor(ids, sims[0]!.engine.displayModel);
    let best = 0;
    let bestHits = -1;
    let bestLoad = Number.POSITIVE_INFINITY;
    sims.forEach((sim, index) => {
      const cache = sim.engine.kvCache!;
      let hits = 0;
      for (const key of keys) if (cache.blockInfo(key, sim.engine.displayModel).present) hits++;
      const load = sim.engine.dispatcher.running + sim.engine.dispatcher.waiting;
      if (hits > bestHits || (hits === bestHits && load < bestLoad)) {
        best = index;
        bestHits = hits;
        bestLoad = load;
      }
    });
    return `${sims[best]!.url}/v1/chat/completions`;
  };
}

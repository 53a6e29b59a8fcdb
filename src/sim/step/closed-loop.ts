/**
 * A closed-loop load on the step engine in virtual time, as `vllm bench serve --max-concurrency C
 * --request-rate inf` drives a server: `concurrency` clients, each sending its next request when the
 * previous one finished, until `requests` were sent. Prompts are distinct random token ids (no
 * prefix hits, as the random dataset); input and output lengths are uniform within ± `lengthSpread`
 * of their means (0 = fixed). Returns the medians `vllm bench serve` prints: TTFT, ITL (every gap
 * between streamed tokens), TPOT (per request: (last − first token) / (tokens − 1)) and end-to-end,
 * as a client sees them: behind the modelled API server (`--frontend-*`, frontend.ts).
 * Used by bench/sim-validate.ts and the published-measurement test (docs/simulator.md "Validation").
 */
import { completeConfig, type SimConfigInput } from '../config.js';
import { NOOP_KV_EVENT_SINK } from '../kv-events.js';
import { Random } from '../random.js';
import { VirtualClock } from './clock.js';
import { StepEngine } from './engine.js';
import { resolveSpec } from './presets.js';

export interface ClosedLoopLoad {
  /** Sim flags (hardware, model profile, overrides); `model` and `engineModel` are filled in. */
  config: Partial<SimConfigInput>;
  concurrency: number;
  requests: number;
  inputTokens: number;
  outputTokens: number;
  lengthSpread: number;
  seed?: number;
}

export interface ClosedLoopMedians {
  ttftMs: number;
  itlMs: number;
  tpotMs: number;
  e2eMs: number;
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

export function runClosedLoop(load: ClosedLoopLoad): ClosedLoopMedians {
  const config = completeConfig({ model: 'm', engineModel: 'step', ...load.config });
  const clock = new VirtualClock();
  const engine = new StepEngine({
    spec: resolveSpec(config), clock, blockSize: config.blockSize, kvCacheBlocks: config.kvCacheSize, maxNumBatchedTokens: config.maxNumBatchedTokens,
    maxNumSeqs: config.maxNumSeqs, maxWaitingQueueLength: 100_000, hashSeed: '', transfer: { bandwidth: 40e9, latencyMs: 2 }, holdTimeoutMs: 1, kvEventSink: NOOP_KV_EVENT_SINK,
    frontend: config,
  });
  const random = new Random(load.seed ?? 42);
  const length = (mean: number): number => Math.max(1, Math.round(mean * (1 + load.lengthSpread * (2 * random.float() - 1))));
  const ttfts: number[] = [];
  const itls: number[] = [];
  const tpots: number[] = [];
  const e2es: number[] = [];
  let started = 0;
  const launch = (): void => {
    if (started >= load.requests) return;
    const id = started++;
    const arrived = clock.now();
    const inputTokens = length(load.inputTokens);
    const outputTokens = length(load.outputTokens);
    let first = 0;
    let last = 0;
    engine.submit({
      id: `r${id}`, model: 'm', remotePrefill: false, remoteDecode: false,
      promptIds: Array.from({ length: inputTokens }, (_, i) => id * 1_000_003 + i),
      outputIds: Array.from({ length: outputTokens }, (_, i) => i),
      sink: {
        started: () => {},
        token: (index) => {
          const now = clock.now();
          if (index === 0) {
            ttfts.push(now - arrived);
            first = now;
          } else itls.push(now - last);
          last = now;
        },
        finished: () => {
          if (outputTokens > 1) tpots.push((last - first) / (outputTokens - 1));
          e2es.push(last - arrived);
          launch();
        },
        failed: () => launch(),
      },
    });
  };
  for (let i = 0; i < load.concurrency; i++) launch();
  clock.run();
  return { ttftMs: median(ttfts), itlMs: median(itls), tpotMs: median(tpots), e2eMs: median(e2es) };
}

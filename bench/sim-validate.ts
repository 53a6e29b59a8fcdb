/**
 * The step engine against published vLLM measurements (docs/simulator.md "Validation"): runs the
 * model in process on virtual time at each published load (closed loop: `concurrency` clients,
 * fixed input/output lengths) and prints published vs simulated median TTFT and ITL with ratios.
 *
 *   npx tsx bench/sim-validate.ts      (or node --experimental-strip-types)
 */
import { completeConfig, type SimConfigInput } from '../src/sim/config.js';
import { NOOP_KV_EVENT_SINK } from '../src/sim/kv-events.js';
import { VirtualClock } from '../src/sim/step/clock.js';
import { StepEngine } from '../src/sim/step/engine.js';
import { resolveSpec } from '../src/sim/step/presets.js';

interface Point {
  source: string;
  setup: string;
  config: Partial<SimConfigInput>;
  concurrency: number;
  inputTokens: number;
  outputTokens: number;
  ttftMs?: number;
  itlMs: number;
}

// Qwen2.5-0.5B-Instruct shape on an NVIDIA L4 (24 GB, 300 GB/s, 121 TFLOP/s dense BF16).
const L4_QWEN05: Partial<SimConfigInput> = { hardware: 'l40s', hbmCapacity: 24, hbmBandwidth: 300, peakFlops: 121, gpuMemoryUtilization: 0.6, maxModelLen: 8192,
  numLayers: 24, hiddenSize: 896, numAttentionHeads: 14, numKvHeads: 2, headDim: 64, intermediateSize: 4864, vocabSize: 151936, tensorParallelSize: 1 };
const WMX = 'https://ai.wmx.dev/benchmarks';
const MUSGRAVE = 'https://johnmusgrave.com/p/vllm-throughput-latency-sweep-on';

const POINTS: Point[] = [
  { source: MUSGRAVE, setup: 'Llama-3.1-8B, A100 40GB, 1024/128', config: { hardware: 'a100-80gb', hbmCapacity: 40, hbmBandwidth: 1555, modelProfile: 'llama-3.1-8b' }, concurrency: 1, inputTokens: 1024, outputTokens: 128, itlMs: 1000 / 75 },
  ...([[1, 27.0, 5.1], [4, 50.1, 5.3], [8, 60.9, 5.5], [16, 103.8, 6.0], [32, 135.3, 7.1]] as const).map(([concurrency, ttftMs, itlMs]): Point => (
    { source: WMX, setup: `Qwen2.5-0.5B, L4, 256/128, C=${concurrency}`, config: L4_QWEN05, concurrency, inputTokens: 256, outputTokens: 128, ttftMs, itlMs })),
];

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

function simulate(point: Point): { ttft: number; itl: number } {
  const config = completeConfig({ model: 'm', engineModel: 'step', ...point.config });
  const clock = new VirtualClock();
  const engine = new StepEngine({
    spec: resolveSpec(config), clock, blockSize: config.blockSize, kvCacheBlocks: config.kvCacheSize, maxNumBatchedTokens: config.maxNumBatchedTokens,
    maxNumSeqs: config.maxNumSeqs, maxWaitingQueueLength: 100_000, hashSeed: '', transfer: { bandwidth: 40e9, latencyMs: 2 }, holdTimeoutMs: 1, kvEventSink: NOOP_KV_EVENT_SINK,
  });
  const ttfts: number[] = [];
  const itls: number[] = [];
  const total = point.concurrency * 20;
  let started = 0;
  const launch = (): void => {
    if (started >= total) return;
    const id = started++;
    const arrived = clock.now();
    let last = 0;
    engine.submit({
      id: `r${id}`, model: 'm', remotePrefill: false, remoteDecode: false,
      // Random prompts: distinct ids per request, so no prefix-cache hits (as the random dataset).
      promptIds: Array.from({ length: point.inputTokens }, (_, i) => id * 1_000_003 + i),
      outputIds: Array.from({ length: point.outputTokens }, (_, i) => i),
      sink: {
        started: () => {},
        token: (index) => {
          const now = clock.now();
          if (index === 0) ttfts.push(now - arrived);
          else itls.push(now - last);
          last = now;
        },
        finished: () => launch(),
        failed: () => launch(),
      },
    });
  };
  for (let i = 0; i < point.concurrency; i++) launch();
  clock.run();
  return { ttft: median(ttfts), itl: median(itls) };
}

const rows = POINTS.map((point) => {
  const simulated = simulate(point);
  const ratio = (sim: number, pub: number | undefined) => (pub === undefined ? '—' : (sim / pub).toFixed(2));
  return {
    setup: point.setup,
    'TTFT pub (ms)': point.ttftMs?.toFixed(1) ?? '—',
    'TTFT sim (ms)': simulated.ttft.toFixed(1),
    'TTFT ratio': ratio(simulated.ttft, point.ttftMs),
    'ITL pub (ms)': point.itlMs.toFixed(1),
    'ITL sim (ms)': simulated.itl.toFixed(1),
    'ITL ratio': ratio(simulated.itl, point.itlMs),
  };
});
console.table(rows);
console.log('sources:', [...new Set(POINTS.map((point) => point.source))].join(' '));

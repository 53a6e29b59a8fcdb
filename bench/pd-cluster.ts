/**
 * The P/D benchmark's cluster (bench/pd.ts): step-model simulators (H200 + Llama-3.1-8B), a real
 * sidecar in front of each decode sim, and the EPP with its built-in gateway — all in this process.
 *
 * Every row uses the same GPUs: `pods` GPUs, either all colocated decode pods (no P/D, one
 * scheduling profile) or `pods − 1` decode pods behind sidecars plus one prefill pod.
 *
 * Time scale S: the sims run on a GPU S times slower (HBM bandwidth, FLOP/s and KV-transfer
 * bandwidth ÷ S; step overhead, transfer latency and the modelled API server's costs × S), so every
 * step takes S times longer on the wall clock and the host CPU does S times less work per simulated
 * second. The client divides what it measures by S; rates are given in H200 requests/s and sent at
 * rate / S.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningEpp } from '../scheduler/main.js';
import { startBenchEpp } from './routing-cluster.js';
import { createLogger } from '../src/log.js';
import { startSimulator, type RunningSimulator } from '../src/sim/simulator.js';
import { DEFAULT_FRONTEND_SETTINGS } from '../src/sim/step/frontend.js';
import { startSidecar, type RunningSidecar } from '../sidecar/main.js';

export const MODEL = 'meta-llama/Llama-3.1-8B-Instruct';

/** H200 preset values the time scale divides (docs/simulator.md, Presets). */
const H200 = { hbmGBps: 4800, tflops: 989, kvTransferGBps: 40, kvTransferLatencyMs: 2, stepOverheadMs: 1 };

export type RowName = 'colocated' | 'always-disagg' | 'threshold' | 'adaptive';
export const ROWS: readonly RowName[] = ['colocated', 'always-disagg', 'threshold', 'adaptive'];

export interface ClusterOptions {
  row: RowName;
  /** GPUs in every row. */
  pods: number;
  timeScale: number;
  /** SLOs in H200 milliseconds (the adaptive decider gets them × timeScale). */
  ttftSloMs: number;
  tpotSloMs: number;
}

export interface Decisions {
  /** decision_type → count. */
  types: Map<string, number>;
  /** reason → count. */
  reasons: Map<string, number>;
}

export interface PdCluster {
  gatewayUrl: string;
  decisions(): Promise<Decisions>;
  close(): Promise<void>;
}

const silent = createLogger('bench', 'silent');

async function startStepSim(role: 'prefill' | 'decode' | 'both', index: number, scale: number): Promise<RunningSimulator> {
  return startSimulator({
    model: MODEL,
    host: '127.0.0.1',
    port: 0,
    seed: BigInt(1000 + index),
    mode: 'random',
    role,
    enableKvcache: true,
    podIp: '127.0.0.1',
    podName: `${role}-${index}`,
    engineModel: 'step',
    hardware: 'h200',
    modelProfile: 'llama-3.1-8b',
    hbmBandwidth: H200.hbmGBps / scale,
    peakFlops: H200.tflops / scale,
    stepOverhead: H200.stepOverheadMs * scale,
    kvTransferBandwidth: H200.kvTransferGBps / scale,
    kvTransferLatency: H200.kvTransferLatencyMs * scale,
    // vLLM's API server (docs/simulator.md "Front end") on the same time scale.
    frontendOverhead: DEFAULT_FRONTEND_SETTINGS.frontendOverhead * scale,
    frontendPromptTokenOverhead: DEFAULT_FRONTEND_SETTINGS.frontendPromptTokenOverhead * scale,
    frontendTokenOverhead: DEFAULT_FRONTEND_SETTINGS.frontendTokenOverhead * scale,
  }, { logger: silent });
}

const HEADER = 'apiVersion: llm-d.ai/v1alpha1\nkind: EndpointPickerConfig\n';
const SCORERS = '- type: prefix-cache-scorer\n- type: queue-scorer\n- type: kv-cache-utilization-scorer\n- type: max-score-picker\n';
const REFS = '  - pluginRef: max-score-picker\n  - pluginRef: prefix-cache-scorer\n    weight: 2\n  - pluginRef: queue-scorer\n    weight: 1\n  - pluginRef: kv-cache-utilization-scorer\n    weight: 1\n';

/** The decider plugin of each P/D row (YAML list item, named `decider`). */
function deciderYaml(options: ClusterOptions): string {
  const s = options.timeScale;
  switch (options.row) {
    case 'always-disagg':
      return '- type: always-disagg-pd-decider\n  name: decider\n';
    case 'threshold':
      // docs/configuration.md, "P/D: the current generation": P/D when ≥ 16 non-cached tokens (the plugin's bare default, 0,
      // means never).
      return '- type: prefix-based-pd-decider\n  name: decider\n  parameters:\n    nonCachedTokens: 16\n';
    case 'adaptive': {
      // Priors for the (scaled) H200 + Llama-3.1-8B sims; learning refines them per pod.
      const params = {
        tpotSloMs: options.tpotSloMs * s,
        ttftSloMs: options.ttftSloMs * s,
        chunkTokens: 8192,
        prefillTokensPerSec: Math.round(30_000 / s),
        decodeStepBaseMs: 5.2 * s,
        decodeStepPerRequestMs: 0.02 * s,
        meanPromptTokens: 2048,
        transferGBps: H200.kvTransferGBps / s,
        transferLatencyMs: H200.kvTransferLatencyMs * s,
      };
      return `- type: adaptive-pd-decider\n  name: decider\n  parameters: ${JSON.stringify(params)}\n`;
    }
    case 'colocated':
      throw new Error('colocated has no decider');
  }
}

export function eppConfig(options: ClusterOptions): string {
  if (options.row === 'colocated') return `${HEADER}plugins:\n${SCORERS}schedulingProfiles:\n- name: default\n  plugins:\n${REFS}`;
  return `${HEADER}plugins:\n${SCORERS}- type: prefill-filter\n- type: decode-filter\n${deciderYaml(options)}` +
    '- type: disagg-profile-handler\n  parameters:\n    profiles:\n      decode: decode\n      prefill: prefill\n    deciders:\n      prefill: decider\n' +
    `schedulingProfiles:\n- name: prefill\n  plugins:\n  - pluginRef: prefill-filter\n${REFS}- name: decode\n  plugins:\n  - pluginRef: decode-filter\n${REFS}`;
}

export async function startPdCluster(options: ClusterOptions): Promise<PdCluster> {
  const sims: RunningSimulator[] = [];
  const sidecars: RunningSidecar[] = [];
  let epp: RunningEpp | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'pd-router-pdbench-'));
  const close = async (): Promise<void> => {
    await epp?.close();
    await Promise.all(sidecars.map((s) => s.close(0)));
    await Promise.all(sims.map((s) => s.close()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const endpoints: Array<{ name: string; address: string; port: number; labels?: Record<string, string> }> = [];
    if (options.row === 'colocated') {
      for (let i = 0; i < options.pods; i++) {
        const sim = await startStepSim('both', i, options.timeScale);
        sims.push(sim);
        endpoints.push({ name: `pod-${i}`, address: '127.0.0.1', port: sim.port });
      }
    } else {
      const prefill = await startStepSim('prefill', 0, options.timeScale);
      sims.push(prefill);
      endpoints.push({ name: 'prefill-0', address: '127.0.0.1', port: prefill.port, labels: { 'llm-d.ai/role': 'prefill' } });
      for (let i = 1; i < options.pods; i++) {
        const sim = await startStepSim('decode', i, options.timeScale);
        sims.push(sim);
        const sidecar = await startSidecar({ port: 0, host: '127.0.0.1', vllmPort: sim.port, secureProxy: false, podIp: '127.0.0.1' }, { logger: silent });
        sidecars.push(sidecar);
        endpoints.push({ name: `decode-${i}`, address: '127.0.0.1', port: sidecar.port, labels: { 'llm-d.ai/role': 'decode' } });
      }
    }
    const endpointsFile = join(dir, 'endpoints.json');
    writeFileSync(endpointsFile, JSON.stringify({ endpoints }));
    epp = await startBenchEpp(eppConfig(options), endpointsFile, Math.round(50 * options.timeScale));
    const running = epp;
    return {
      gatewayUrl: `${running.gatewayUrl!}/v1/chat/completions`,
      async decisions() {
        const types = new Map<string, number>();
        const reasons = new Map<string, number>();
        for (const { labels, value } of (await running.metrics.disaggDecision.get()).values) {
          const type = String(labels.decision_type);
          const reason = String(labels.reason);
          types.set(type, (types.get(type) ?? 0) + value);
          reasons.set(reason, (reasons.get(reason) ?? 0) + value);
        }
        return { types, reasons };
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * A P/D stack of real processes for end-to-end tests: prefill sim, decode sims each behind a
 * sidecar, and the EPP (gateway + ext_proc plaintext) — all on 127.0.0.1 with port 0.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startCli, type RunningProcess } from '../helpers/processes.js';

export const MODEL = 'e2e-model';
export const PD_CONFIG = fileURLToPath(new URL('../../config/pd-epp-config.yaml', import.meta.url));

export interface PdStack {
  prefill: RunningProcess;
  decodeSims: RunningProcess[];
  sidecars: RunningProcess[];
  epp: RunningProcess;
  gatewayUrl: string;
  grpcPort: number;
  metricsUrl: string;
  /** The static endpoints file the EPP reads (for starting more EPPs over the same pods). */
  endpointsFile: string;
  stop(): Promise<void>;
}

export interface StackOptions {
  decodePods?: number;
  /** Env added to every process (e.g. OTEL_* for tracing tests). */
  env?: (service: string) => Record<string, string>;
  simArgs?: string[];
  config?: string;
  /**
   * Pod IP of decode pod i (default 127.0.0.1). With another loopback address (127.0.0.x) the pod
   * looks like a Kubernetes pod: its sidecar listens on `<ip>:<sim port>` and is the endpoint, the
   * sim stays on 127.0.0.1 (`--vllm-host`), and the sim's KV-event topic `kv@<POD_IP>:<port>` names
   * exactly the endpoint the EPP scores (as vLLM's `kv@${POD_IP}:8000` does behind the sidecar).
   */
  decodeAddress?: (i: number) => string;
}

export interface EppProcessOptions {
  config: string;
  endpointsFile: string;
  env?: Record<string, string>;
}

/** Starts an EPP (gateway + ext_proc plaintext + metrics, port 0 each) over an endpoints file. */
export async function startEppProcess(options: EppProcessOptions): Promise<{ epp: RunningProcess; gatewayUrl: string; grpcPort: number; metricsUrl: string }> {
  const epp = await startCli([
    'epp', '--config', options.config, '--endpoints', options.endpointsFile, '--host', '127.0.0.1',
    '--gateway-port', '0', '--grpc-port', '0', '--secure-serving=false', '--grpc-health-port', '-1', '--metrics-port', '0',
  ], { env: options.env, listeners: 3 });
  const listener = (name: string) => epp.listeners.find((l) => l.listener === name)!;
  return { epp, gatewayUrl: String(listener('gateway').url), grpcPort: Number(listener('grpc').port), metricsUrl: String(listener('metrics').url) };
}

export async function startPdStack(options: StackOptions = {}): Promise<PdStack> {
  const env = (service: string): Record<string, string> => ({ POD_IP: '127.0.0.1', ...options.env?.(service) });
  const simArgs = (role: string): string[] => ['sim', '--port', '0', '--host', '127.0.0.1', '--model', MODEL, '--role', role, '--max-model-len', '32768', '--enable-kvcache', ...(options.simArgs ?? [])];
  const started: RunningProcess[] = [];
  try {
    const [prefill, ...decodeSims] = await Promise.all([
      startCli(simArgs('prefill'), { env: env('sim-prefill') }),
      ...Array.from({ length: options.decodePods ?? 1 }, (_, i) => startCli(simArgs('decode'), {
        env: { ...env(`sim-decode-${i}`), ...(options.decodeAddress ? { POD_IP: options.decodeAddress(i) } : {}) },
      })),
    ]);
    started.push(prefill!, ...decodeSims);
    const podIp = (i: number): string => options.decodeAddress?.(i) ?? '127.0.0.1';
    const sidecars = await Promise.all(decodeSims.map((sim, i) => startCli(
      podIp(i) === '127.0.0.1'
        ? ['sidecar', '--port', '0', '--host', '127.0.0.1', '--vllm-port', String(sim.port), '--secure-proxy=false']
        : ['sidecar', '--port', String(sim.port), '--host', podIp(i), '--vllm-host', '127.0.0.1', '--vllm-port', String(sim.port), '--secure-proxy=false'],
      { env: env(`sidecar-${i}`) },
    )));
    started.push(...sidecars);
    const dir = mkdtempSync(join(tmpdir(), 'pd-e2e-'));
    const endpointsFile = join(dir, 'endpoints.yaml');
    writeFileSync(endpointsFile, JSON.stringify({
      endpoints: [
        { name: 'prefill-0', address: '127.0.0.1', port: prefill!.port, labels: { 'llm-d.ai/role': 'prefill' } },
        ...sidecars.map((s, i) => ({ name: `decode-${i}`, address: podIp(i), port: s.port, labels: { 'llm-d.ai/role': 'decode' } })),
      ],
    }));
    const { epp, gatewayUrl, grpcPort, metricsUrl } = await startEppProcess({ config: options.config ?? PD_CONFIG, endpointsFile, env: env('epp') });
    started.push(epp);
    return {
      prefill: prefill!,
      decodeSims,
      sidecars,
      epp,
      gatewayUrl,
      grpcPort,
      metricsUrl,
      endpointsFile,
      stop: async () => {
        await Promise.all(started.map((p) => p.stop()));
      },
    };
  } catch (err) {
    await Promise.all(started.map((p) => p.stop()));
    throw err;
  }
}

/** Reads one Prometheus sample value (sum over matching label sets). */
export async function metricValue(url: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(url)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== '{' && rest[0] !== ' ') continue;
    if (!Object.entries(labels).every(([k, v]) => rest.includes(`${k}="${v}"`))) continue;
    total += Number(line.trim().split(/\s+/).pop());
  }
  return total;
}

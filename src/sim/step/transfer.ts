/**
 * P/D KV transfer in the step engine (docs/simulator.md "Step engine / P/D"). The decode leg's
 * first token waits for the prompt's KV to arrive: the KV bytes of the tokens the decode pod does
 * not already hold in its prefix cache, over the transfer bandwidth, plus a fixed latency (NIXL
 * handshake, notification, scheduling round trip). Each GPU moves its own tensor-parallel shard
 * over its own NIC, so the bandwidth is per GPU and scales with the tensor-parallel size.
 */
import type { EngineSpec } from './presets.js';
import { kvBytesPerTokenPerGpu } from './roofline.js';

export interface TransferSettings {
  /** Per GPU, bytes/s. */
  bandwidth: number;
  latencyMs: number;
}

/** Default: 80 % of one 400 Gb/s RDMA NIC per GPU (the usual GPU-direct NIXL setup), 2 ms fixed. */
export const DEFAULT_KV_TRANSFER_BANDWIDTH_GBPS = 40;
export const DEFAULT_KV_TRANSFER_LATENCY_MS = 2;
/** How long a prefill pod holds a finished prompt's blocks for a decode pod that never pulls them. */
export const DEFAULT_KV_TRANSFER_TIMEOUT_MS = 60_000;

/** Time to move the KV of `tokens` tokens from the prefill pod to the decode pod, ms. */
export function transferMs(spec: EngineSpec, settings: TransferSettings, tokens: number): number {
  if (tokens <= 0) return settings.latencyMs;
  return settings.latencyMs + ((tokens * kvBytesPerTokenPerGpu(spec)) / settings.bandwidth) * 1000;
}

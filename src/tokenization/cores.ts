/**
 * How many cores this process may use: `os.availableParallelism()` (CPU affinity), capped by a
 * cgroup v2 CPU quota when one is set (`/sys/fs/cgroup/cpu.max` = "<quota> <period>", or "max"
 * for none) — in a container with `limits.cpu: 2` on a 64-core node this is 2, not 64.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

export const CGROUP_CPU_MAX = '/sys/fs/cgroup/cpu.max';

/** Cores from a cpu.max line (rounded up, at least 1), or undefined for "max" / unreadable. */
export function coresFromCpuMax(text: string): number | undefined {
  const [quota, period] = text.trim().split(/\s+/);
  if (quota === undefined || quota === 'max') return undefined;
  const q = Number(quota);
  const p = Number(period ?? '100000');
  if (!Number.isFinite(q) || !Number.isFinite(p) || q <= 0 || p <= 0) return undefined;
  return Math.max(1, Math.ceil(q / p));
}

export function availableCores(cpuMaxPath = CGROUP_CPU_MAX): number {
  const parallelism = availableParallelism();
  let quota: number | undefined;
  try {
    quota = coresFromCpuMax(readFileSync(cpuMaxPath, 'utf8'));
  } catch {
    // no cgroup v2 controller visible: affinity only
  }
  return Math.max(1, Math.min(parallelism, quota ?? parallelism));
}

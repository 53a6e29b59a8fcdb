/**
 * Usage-limit policies: one dispatch ceiling per priority band, from the pool saturation s and the
 * bands ordered highest first. The controller dispatches from band i only while s < ceiling[i], and
 * stops at the first non-empty band that is gated (lower bands wait too).
 *
 * `static-usage-limit-policy`: ceiling[i] = threshold for every band (threshold in (0,1], default 1).
 *
 * `soft-reflective-ceiling-policy` (no parameters), N bands:
 *   ceiling[0] = 1;  reflective_i = 1 − i·s/(N−1);
 *   s < reflective_i → 1 (open);  s ≥ 1 → 0 (closed);
 *   otherwise the band alternates: open on one call in every round(s/(1−s)) calls, with one tick
 *   shared by all gated bands (so on a given call they are all open or all closed). The tick only
 *   advances while some band is in that regime (s ≥ 1 − s and s < 1).
 */

export const STATIC_USAGE_LIMIT_POLICY_TYPE = 'static-usage-limit-policy';
export const SOFT_REFLECTIVE_CEILING_POLICY_TYPE = 'soft-reflective-ceiling-policy';

export interface UsageLimitPolicy {
  readonly type: string;
  readonly name: string;
  /** Ceilings for `priorities` (highest first), same length. */
  ceilings(saturation: number, priorities: readonly number[]): number[];
}

export class StaticUsageLimitPolicy implements UsageLimitPolicy {
  readonly type = STATIC_USAGE_LIMIT_POLICY_TYPE;
  constructor(readonly name: string, readonly threshold = 1) {}

  ceilings(_saturation: number, priorities: readonly number[]): number[] {
    return priorities.map(() => this.threshold);
  }
}

export class SoftReflectiveCeilingPolicy implements UsageLimitPolicy {
  readonly type = SOFT_REFLECTIVE_CEILING_POLICY_TYPE;
  private tick = 0;
  constructor(readonly name: string) {}

  ceilings(s: number, priorities: readonly number[]): number[] {
    const n = priorities.length;
    if (n <= 1) return priorities.map(() => 1);
    let open = false;
    if (s >= 1 - s && s < 1) {
      const period = Math.max(1, Math.round(s / (1 - s + 1e-9)));
      this.tick++;
      open = this.tick % period === 0;
    }
    return priorities.map((_, i) => {
      if (i === 0) return 1;
      const reflective = 1 - (i * s) / (n - 1);
      if (s < reflective) return 1;
      if (s >= 1) return 0;
      return open ? 1 : 0;
    });
  }
}

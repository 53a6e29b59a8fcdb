/**
 * `program-aware-fairness`: fairness between programs (flows named by the fairness-id header) by
 * Least Attained Service.
 *
 * Attained service of a program: Σ (promptTokens + 2·completionTokens) of its completed requests,
 * decayed with half-life H: service ← service · 2^(−Δt/H) (H = 0: no decay).
 * Pick among non-empty flows, with min-max normalisation over them (norm = 0 when max == min):
 *   score = wS · (1 − norm(service)) + wW · norm(headWaitMs);  highest score wins, ties → first.
 * A program with no completion for evictionTtl and nothing in flight is forgotten (its metric
 * series too); the sweep runs at most every evictionSweep.
 *
 * Parameters (defaults as llm-d): strategy (`las`), lasWeightService (0.8), lasWeightHeadWait (0.2),
 * lasHalfLifeSeconds (60, ≥ 0), evictionTtlSeconds (3600, > 0), evictionSweepSeconds (300, > 0).
 *
 * Metrics: llm_d_epp_program_aware_attained_service_tokens{program_id},
 * llm_d_epp_program_aware_avg_wait_time_milliseconds{program_id} (running mean of queue wait),
 * llm_d_epp_program_aware_jains_fairness_index (Jain's index over the programs' mean waits).
 *
 * ```yaml
 * - type: program-aware-fairness
 *   parameters: {lasHalfLifeSeconds: 30}
 * flowControl:
 *   defaultPriorityBand: {fairnessPolicyRef: program-aware-fairness}
 * ```
 */
import { Gauge, type Registry } from 'prom-client';
import type { FairnessPolicy } from './fairness.js';
import type { FlowQueue } from './queue.js';
import type { FlowUsage } from './types.js';

export const PROGRAM_AWARE_FAIRNESS_TYPE = 'program-aware-fairness';

export interface ProgramAwareOptions {
  weightService: number;
  weightHeadWait: number;
  halfLifeSeconds: number;
  evictionTtlSeconds: number;
  evictionSweepSeconds: number;
}

export const PROGRAM_AWARE_DEFAULTS: ProgramAwareOptions = {
  weightService: 0.8, weightHeadWait: 0.2, halfLifeSeconds: 60, evictionTtlSeconds: 3600, evictionSweepSeconds: 300,
};

interface Program {
  service: number;
  anchor: number;
  inFlight: number;
  lastActivity: number;
  waits: number;
  meanWaitMs: number;
}

interface ProgramMetrics {
  service: Gauge<'program_id'>;
  meanWait: Gauge<'program_id'>;
  jain: Gauge;
}

export function jainsIndex(values: readonly number[]): number {
  if (values.length === 0) return 1;
  const sum = values.reduce((a, b) => a + b, 0);
  const squares = values.reduce((a, b) => a + b * b, 0);
  return squares === 0 ? 1 : (sum * sum) / (values.length * squares);
}

export class ProgramAwareFairness implements FairnessPolicy {
  readonly type = PROGRAM_AWARE_FAIRNESS_TYPE;
  private readonly programs = new Map<string, Program>();
  private lastSweep: number | undefined;
  private readonly metrics: ProgramMetrics | undefined;

  constructor(readonly name: string, readonly options: ProgramAwareOptions = PROGRAM_AWARE_DEFAULTS, registry?: Registry) {
    if (registry) {
      const registers = [registry];
      const existing = <T>(n: string) => registry.getSingleMetric(n) as T | undefined;
      this.metrics = {
        service: existing<Gauge<'program_id'>>('llm_d_epp_program_aware_attained_service_tokens')
          ?? new Gauge({ name: 'llm_d_epp_program_aware_attained_service_tokens', help: 'Time-decayed attained service (weighted tokens) per program.', labelNames: ['program_id'], registers }),
        meanWait: existing<Gauge<'program_id'>>('llm_d_epp_program_aware_avg_wait_time_milliseconds')
          ?? new Gauge({ name: 'llm_d_epp_program_aware_avg_wait_time_milliseconds', help: 'Running mean of flow-control queue wait per program.', labelNames: ['program_id'], registers }),
        jain: existing<Gauge>('llm_d_epp_program_aware_jains_fairness_index')
          ?? new Gauge({ name: 'llm_d_epp_program_aware_jains_fairness_index', help: "Jain's fairness index over the mean wait per program.", registers }),
      };
    }
  }

  /** Decayed attained service of a program now (0 when unknown). */
  service(id: string, now: number): number {
    const program = this.programs.get(id);
    if (!program) return 0;
    this.decay(program, now);
    return program.service;
  }

  pick(flows: readonly FlowQueue[], _ordering: unknown, now: number): FlowQueue | undefined {
    this.sweep(now);
    if (flows.length === 0) return undefined;
    const entries = flows.map((flow) => ({ flow, service: this.service(flow.fairnessId, now), wait: now - flow.head()!.enqueuedAt }));
    const range = (values: number[]) => [Math.min(...values), Math.max(...values)] as const;
    const [minS, maxS] = range(entries.map((e) => e.service));
    const [minW, maxW] = range(entries.map((e) => e.wait));
    const norm = (v: number, lo: number, hi: number) => (hi > lo ? (v - lo) / (hi - lo) : 0);
    let best = entries[0]!;
    let bestScore = -Infinity;
    for (const e of entries) {
      const score = this.options.weightService * (1 - norm(e.service, minS, maxS)) + this.options.weightHeadWait * norm(e.wait, minW, maxW);
      if (score > bestScore) {
        bestScore = score;
        best = e;
      }
    }
    return best.flow;
  }

  onDispatch(id: string, waitedMs: number, now: number): void {
    const program = this.program(id, now);
    program.inFlight++;
    program.waits++;
    program.meanWaitMs += (waitedMs - program.meanWaitMs) / program.waits;
    this.metrics?.meanWait.set({ program_id: id }, program.meanWaitMs);
    this.metrics?.jain.set(jainsIndex([...this.programs.values()].filter((p) => p.waits > 0).map((p) => p.meanWaitMs)));
  }

  onComplete(id: string, usage: FlowUsage | undefined, now: number): void {
    const program = this.program(id, now);
    program.inFlight = Math.max(0, program.inFlight - 1);
    program.lastActivity = now;
    this.decay(program, now);
    program.service += (usage?.promptTokens ?? 0) + 2 * (usage?.completionTokens ?? 0);
    this.metrics?.service.set({ program_id: id }, program.service);
  }

  private program(id: string, now: number): Program {
    let program = this.programs.get(id);
    if (!program) {
      program = { service: 0, anchor: now, inFlight: 0, lastActivity: now, waits: 0, meanWaitMs: 0 };
      this.programs.set(id, program);
    }
    return program;
  }

  private decay(program: Program, now: number): void {
    const elapsed = (now - program.anchor) / 1000;
    if (elapsed <= 0) return;
    if (this.options.halfLifeSeconds > 0) program.service *= 2 ** (-elapsed / this.options.halfLifeSeconds);
    program.anchor = now;
  }

  private sweep(now: number): void {
    if (this.lastSweep === undefined) this.lastSweep = now;
    if (now - this.lastSweep < this.options.evictionSweepSeconds * 1000) return;
    this.lastSweep = now;
    for (const [id, program] of this.programs) {
      if (program.inFlight > 0 || now - program.lastActivity < this.options.evictionTtlSeconds * 1000) continue;
      this.programs.delete(id);
      this.metrics?.service.remove({ program_id: id });
      this.metrics?.meanWait.remove({ program_id: id });
    }
  }

  /** Programs currently tracked (tests, debugging). */
  get size(): number {
    return this.programs.size;
  }
}

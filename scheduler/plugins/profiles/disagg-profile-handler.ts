/**
 * `disagg-profile-handler`: the current llm-d P/D (and E/PD, E/P/D) profile handler.
 * Decode always runs first; then an optional encode stage and an optional
 * prefill stage, each gated by a decider that sees the chosen decode endpoint.
 *
 * Pick, one profile per call:
 * 1. decode not run → run `decode`;
 * 2. decode found nothing → stop (ProcessResults answers 503 `no decode endpoint available: …`);
 * 3. encode profile configured and not decided yet → run it iff `deciders.encode` says so;
 * 4. prefill profile configured and not decided yet → run it iff `deciders.prefill` says so;
 * 5. done → count `llm_d_inference_scheduler_disagg_decision_total{model_name,decision_type,reason}`
 *    (`reason`: the prefill decider's; `disabled` without one).
 * A stage whose decider said yes but whose profile found no endpoint is dropped: the request is
 * served without it (decode-only for prefill, reason `no_prefill_pod`), logged and counted in
 * `pd_router_prefill_unavailable_total{reason}`. The prefill decision is on
 * `SchedulingResult.pdDecision`.
 *
 * `stageOrder: prefill-first` (llm-d Router's; default `decode-first`) reverses the order: prefill
 * runs first whenever a prefill profile is configured (no decider: `deciders.prefill` is refused),
 * then encode (its decider sees no decode endpoint), then decode. The prefill pick is the first
 * profile's, so `topology-affinity-filter` / `-scorer` in the decode profile compare against it
 * (e.g. decode on the prefill pod's rack). Reason `prefill_first` when prefill found a pod,
 * `no_prefill_pod` when not (served decode-only), `disabled` without a prefill profile.
 *
 * Its own PreRequest writes `x-prefiller-host-port` / `x-encoder-hosts-ports` (no separate
 * headers handler needed).
 *
 * Parameters (nested form; no decider = that stage disabled):
 * - `profiles.decode` / `.prefill` / `.encode`: profile names (defaults `decode`, `prefill`, `encode`)
 * - `deciders.prefill` / `.encode`: names of decider plugins declared in the same config
 * Deprecated flat keys: `decodeProfile`, `prefillProfile`, `encodeProfile`,
 * `prefillDeciderPluginName`, `encodeDeciderPluginName`, `deciderPluginName` (prefill fallback).
 * - `stageOrder`: `decode-first` (default) or `prefill-first`
 * Mixing the two forms is an error; other keys (`primaryPort`, `threshold`, …) are ignored.
 *
 * ```yaml
 * - type: prefix-based-pd-decider
 *   parameters: {nonCachedTokens: 16}
 * - type: disagg-profile-handler
 *   parameters: {deciders: {prefill: prefix-based-pd-decider}}
 * ```
 *
 * Span per Pick: `llm_d.epp.disagg.profile_handler.pick`; the one that decides prefill (and the
 * completing one) also carry `pd.decision.reason` and `pd.estimate.<name>`.
 */
import type { Attributes } from '../../../src/telemetry/tracing.js';
import { z } from 'zod';
import type { Logger } from '../../../src/log.js';
import type { InferenceRequest } from '../../framework/request.js';
import type { SchedulingContext } from '../../framework/cycle-state.js';
import { ConfigError } from '../../framework/errors.js';
import {
  consumesOf,
  type ConsumesAttributes, type Decider, type PreRequest, type ProfileHandler, type ProfileRunResult,
  type SchedulerProfile, type SchedulingResult,
} from '../../framework/plugins.js';
import { parseParameters, tolerate, type PluginFactory } from '../../framework/registry.js';
import type { EppMetrics } from '../../metrics.js';
import { setDisaggHeaders } from '../prerequest/disagg-headers-handler.js';
import {
  DISABLED_DECISION, UNPARSED_DECISION, decisionType, finalPdDecision, firstTarget, inSpan, modelLabel, noDecodeEndpoint, recordStageFallback, resolveDecider,
  setDecisionAttributes, stageDecisions,
} from './disagg-shared.js';

export const DISAGG_PROFILE_HANDLER_TYPE = 'disagg-profile-handler';
export const DISAGG_PICK_SPAN = 'llm_d.epp.disagg.profile_handler.pick';

export const DEFAULT_DECODE_PROFILE = 'decode';
export const DEFAULT_PREFILL_PROFILE = 'prefill';
export const DEFAULT_ENCODE_PROFILE = 'encode';

export interface DisaggProfileHandlerOptions {
  decodeProfile?: string;
  prefillProfile?: string;
  encodeProfile?: string;
  prefillDecider?: Decider;
  encodeDecider?: Decider;
  metrics?: EppMetrics;
  stageOrder?: StageOrder;
}

export type StageOrder = 'decode-first' | 'prefill-first';
const PREFILL_FIRST_DECISION = Object.freeze({ disaggregate: true, reason: 'prefill_first' });

export class DisaggProfileHandler implements ProfileHandler, PreRequest, ConsumesAttributes {
  readonly type = DISAGG_PROFILE_HANDLER_TYPE;
  readonly decodeProfile: string;
  readonly prefillProfile: string;
  readonly encodeProfile: string;
  readonly prefillDecider: Decider | undefined;
  readonly encodeDecider: Decider | undefined;
  /** What the deciders read (so the loader injects a prefix producer when one needs it). */
  readonly consumes: readonly string[];
  readonly stageOrder: StageOrder;
  private readonly metrics: EppMetrics | undefined;

  constructor(readonly name: string, options: DisaggProfileHandlerOptions = {}) {
    this.decodeProfile = options.decodeProfile || DEFAULT_DECODE_PROFILE;
    this.prefillProfile = options.prefillProfile || DEFAULT_PREFILL_PROFILE;
    this.encodeProfile = options.encodeProfile || DEFAULT_ENCODE_PROFILE;
    this.prefillDecider = options.prefillDecider;
    this.encodeDecider = options.encodeDecider;
    this.metrics = options.metrics;
    this.stageOrder = options.stageOrder ?? 'decode-first';
    this.consumes = [...new Set([this.prefillDecider, this.encodeDecider].flatMap((decider) => (decider ? consumesOf(decider) : [])))];
  }

  pickProfiles(
    ctx: SchedulingContext,
    request: InferenceRequest,
    profiles: ReadonlyMap<string, SchedulerProfile>,
    results: ReadonlyMap<string, ProfileRunResult | null>,
  ): SchedulerProfile[] {
    if (this.stageOrder === 'prefill-first') return this.pickPrefillFirst(ctx, request, profiles, results);
    return inSpan(DISAGG_PICK_SPAN, request, (span) => {
      if (!results.has(this.decodeProfile)) return this.runDecode(ctx, profiles, span);
      const decodeEndpoint = firstTarget(results.get(this.decodeProfile));
      if (!decodeEndpoint) {
        span['llm_d.profile_handler.decision'] = 'complete';
        span['llm_d.profile_handler.decode_failed'] = true;
        return [];
      }
      const decided = stageDecisions(ctx, this.name);
      const stages = [
        { stage: 'encode', profile: this.encodeProfile, decider: this.encodeDecider },
        { stage: 'prefill', profile: this.prefillProfile, decider: this.prefillDecider },
      ] as const;
      for (const { stage, profile, decider } of stages) {
        const configured = profiles.get(profile);
        if (!configured || results.has(profile) || decided.has(stage)) continue;
        const decision = request.unparsed ? UNPARSED_DECISION : decider ? decider.decide(ctx, request, decodeEndpoint) : DISABLED_DECISION;
        decided.set(stage, decision);
        if (stage === 'prefill') setDecisionAttributes(span, decision);
        span['llm_d.profile_handler.decision'] = `${decision.disaggregate ? 'run' : 'skip'}_${stage}`;
        if (decision.disaggregate) return [configured];
      }
      return this.complete(ctx, request, results, span);
    });
  }

  /** prefill (always, when configured) → encode (decided without a decode pod) → decode. */
  private pickPrefillFirst(
    ctx: SchedulingContext,
    request: InferenceRequest,
    profiles: ReadonlyMap<string, SchedulerProfile>,
    results: ReadonlyMap<string, ProfileRunResult | null>,
  ): SchedulerProfile[] {
    return inSpan(DISAGG_PICK_SPAN, request, (span) => {
      if (results.has(this.decodeProfile)) {
        if (firstTarget(results.get(this.decodeProfile))) return this.complete(ctx, request, results, span);
        span['llm_d.profile_handler.decision'] = 'complete';
        span['llm_d.profile_handler.decode_failed'] = true;
        return [];
      }
      const decided = stageDecisions(ctx, this.name);
      const prefill = profiles.get(this.prefillProfile);
      if (prefill && !decided.has('prefill') && request.unparsed) decided.set('prefill', UNPARSED_DECISION);
      if (prefill && !decided.has('prefill')) {
        decided.set('prefill', PREFILL_FIRST_DECISION);
        span['llm_d.profile_handler.decision'] = 'run_prefill';
        return [prefill];
      }
      const encode = profiles.get(this.encodeProfile);
      if (encode && !decided.has('encode')) {
        const decision = request.unparsed ? UNPARSED_DECISION : this.encodeDecider ? this.encodeDecider.decide(ctx, request, undefined) : DISABLED_DECISION;
        decided.set('encode', decision);
        span['llm_d.profile_handler.decision'] = `${decision.disaggregate ? 'run' : 'skip'}_encode`;
        if (decision.disaggregate) return [encode];
      }
      return this.runDecode(ctx, profiles, span);
    });
  }

  /** The decode profile runs next; a config without it cannot schedule (503, recorded on the span). */
  private runDecode(ctx: SchedulingContext, profiles: ReadonlyMap<string, SchedulerProfile>, span: Attributes): SchedulerProfile[] {
    const decode = profiles.get(this.decodeProfile);
    if (!decode) {
      span['llm_d.profile_handler.decision'] = 'error_missing_decode_profile';
      throw noDecodeEndpoint(ctx, this.decodeProfile, false);
    }
    span['llm_d.profile_handler.decision'] = 'run_decode';
    return [decode];
  }

  /** All stages ran: count fallbacks and the decision, close the span. */
  private complete(ctx: SchedulingContext, request: InferenceRequest, results: ReadonlyMap<string, ProfileRunResult | null>, span: Attributes): [] {
    const decided = stageDecisions(ctx, this.name);
    for (const [stage, profile] of [['encode', this.encodeProfile], ['prefill', this.prefillProfile]] as const) {
      if (decided.get(stage)?.disaggregate && !firstTarget(results.get(profile))) recordStageFallback(ctx, request, this.metrics, stage, profile);
    }
    const prefillUsed = firstTarget(results.get(this.prefillProfile)) !== undefined;
    const decision = decisionType(firstTarget(results.get(this.encodeProfile)) !== undefined, prefillUsed);
    const pd = finalPdDecision(decided.get('prefill'), prefillUsed);
    setDecisionAttributes(span, pd);
    this.metrics?.disaggDecision.inc({ model_name: modelLabel(request), decision_type: decision, reason: pd.reason });
    span['llm_d.profile_handler.decision'] = `complete_${decision}`;
    return [];
  }

  processResults(ctx: SchedulingContext, _request: InferenceRequest, results: ReadonlyMap<string, ProfileRunResult | null>): SchedulingResult {
    const decode = results.get(this.decodeProfile);
    if (!decode || decode.targets.length === 0) throw noDecodeEndpoint(ctx, this.decodeProfile, true);
    const profileResults = new Map<string, ProfileRunResult | null>([[this.decodeProfile, decode]]);
    const prefill = results.get(this.prefillProfile);
    const prefillUsed = prefill !== null && prefill !== undefined && prefill.targets.length > 0;
    if (prefillUsed) profileResults.set(this.prefillProfile, prefill);
    const encode = results.get(this.encodeProfile);
    if (encode && encode.targets.length > 0) profileResults.set(this.encodeProfile, encode);
    const pdDecision = finalPdDecision(stageDecisions(ctx, this.name).get('prefill'), prefillUsed);
    return { primaryProfileName: this.decodeProfile, profileResults, pdDecision };
  }

  preRequest(_ctx: SchedulingContext, request: InferenceRequest, result: SchedulingResult): void {
    setDisaggHeaders(request, result, { prefillProfile: this.prefillProfile, encodeProfile: this.encodeProfile });
  }

  /** Start-up check against the configured profile names (called by the config loader). */
  validateProfiles(profileNames: readonly string[], logger: Logger): void {
    const names = new Set(profileNames);
    if (!names.has(this.decodeProfile)) {
      throw new ConfigError('parameters', `the decode profile "${this.decodeProfile}" is not among the scheduling profiles (${profileNames.join(', ')})`);
    }
    for (const [stage, profile, decider] of [['prefill', this.prefillProfile, this.prefillDecider], ['encode', this.encodeProfile, this.encodeDecider]] as const) {
      if (decider && !names.has(profile)) logger.warn({ plugin: this.name, profile }, `deciders.${stage} is set but there is no "${profile}" scheduling profile: ${stage} disaggregation never happens`);
      if (!decider && names.has(profile) && !(stage === 'prefill' && this.stageOrder === 'prefill-first')) logger.warn({ plugin: this.name, profile }, `a "${profile}" scheduling profile exists but deciders.${stage} is not set: ${stage} disaggregation is disabled`);
    }
  }
}

const name = z.string().optional();
const Parameters = z.looseObject({
  profiles: z.looseObject({ decode: name, prefill: name, encode: name }).optional(),
  deciders: z.looseObject({ prefill: name, encode: name }).optional(),
  decodeProfile: name,
  prefillProfile: name,
  encodeProfile: name,
  prefillDeciderPluginName: name,
  encodeDeciderPluginName: name,
  deciderPluginName: name,
  stageOrder: z.enum(['decode-first', 'prefill-first'], { error: 'stageOrder must be "decode-first" or "prefill-first"' }).default('decode-first'),
});
tolerate(Parameters, ['primaryPort', 'threshold', 'hashBlockSize', 'prefixPluginType', 'prefixPluginName']); // pd-profile-handler keys in pasted configs

const LEGACY_KEYS = ['decodeProfile', 'prefillProfile', 'encodeProfile', 'prefillDeciderPluginName', 'encodeDeciderPluginName', 'deciderPluginName'] as const;

export const disaggProfileHandlerFactory: PluginFactory = (pluginName, parameters, handle) => {
  const p = parseParameters(Parameters, parameters);
  const nested = [p.profiles?.decode, p.profiles?.prefill, p.profiles?.encode, p.deciders?.prefill, p.deciders?.encode].some(Boolean);
  const legacy = LEGACY_KEYS.filter((key) => p[key]);
  if (nested && legacy.length > 0) {
    throw new ConfigError('parameters', `cannot mix deprecated flat parameters (${legacy.join(', ')}) with nested parameters (profiles, deciders): use one format or the other`);
  }
  for (const ignored of ['threshold', 'hashBlockSize'] as const) {
    if (parameters && typeof parameters === 'object' && ignored in parameters) {
      handle.logger.warn({ plugin: pluginName }, `disagg-profile-handler ignores "${ignored}": declare a prefix-based-pd-decider (nonCachedTokens) and name it in deciders.prefill`);
    }
  }
  if (p.stageOrder === 'prefill-first' && (p.deciders?.prefill || p.prefillDeciderPluginName || p.deciderPluginName)) {
    throw new ConfigError(['parameters', 'stageOrder'], 'prefill-first runs prefill whenever a prefill profile exists: a prefill decider is not supported with it (as llm-d Router)');
  }
  if (legacy.length > 0) handle.logger.warn({ plugin: pluginName, keys: legacy }, 'deprecated flat parameters: use profiles.{decode,prefill,encode} and deciders.{prefill,encode}');
  const prefillDeciderName = nested ? p.deciders?.prefill : p.prefillDeciderPluginName || p.deciderPluginName;
  const prefillDeciderPath = nested ? 'parameters.deciders.prefill' : p.prefillDeciderPluginName ? 'parameters.prefillDeciderPluginName' : 'parameters.deciderPluginName';
  const encodeDeciderName = nested ? p.deciders?.encode : p.encodeDeciderPluginName;
  const encodeDeciderPath = nested ? 'parameters.deciders.encode' : 'parameters.encodeDeciderPluginName';
  return new DisaggProfileHandler(pluginName, {
    decodeProfile: nested ? p.profiles?.decode : p.decodeProfile,
    prefillProfile: nested ? p.profiles?.prefill : p.prefillProfile,
    encodeProfile: nested ? p.profiles?.encode : p.encodeProfile,
    prefillDecider: prefillDeciderName ? resolveDecider(handle, prefillDeciderName, prefillDeciderPath) : undefined,
    encodeDecider: encodeDeciderName ? resolveDecider(handle, encodeDeciderName, encodeDeciderPath) : undefined,
    metrics: handle.metrics,
    stageOrder: p.stageOrder,
  });
};

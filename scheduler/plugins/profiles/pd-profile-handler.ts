/**
 * `pd-profile-handler`: llm-d's older P/D profile handler (deprecated upstream, still registered),
 * in both of its generations:
 *
 * - **seed-era threshold form** (releases ≤ 0.5): `threshold` (bytes, default 0 = *always* P/D)
 *   and `hashBlockSize` (characters, default 64). Skip prefill iff the non-cached part of the user
 *   input is shorter than `threshold` bytes:
 *       nonCachedBytes = userInputBytes − cachedBytes;   prefill iff nonCachedBytes ≥ threshold
 *   Reasons: `always` (threshold 0), `short_input` (the whole input is under the threshold),
 *   `cached` (the non-cached part is), `threshold_met`; estimates `input_bytes`, `non_cached_bytes`.
 *   Upstream computed `cachedBytes = hit·hashBlockSize` from its prefix plugin's per-pod block hit
 *   count (minus one for a "model name" block). The modern equivalent used here reads the decode
 *   endpoint's PrefixCacheMatchInfo (approx-prefix-cache-producer): `cachedBytes =
 *   matchBlocks × blockSizeTokens × 4`, i.e. matched blocks times the producer's block width in bytes
 *   (its hashing block is blockSizeTokens·4 bytes). No −1: the producer seeds its hash chain with the
 *   model instead of counting it as a block. `hashBlockSize` is used as the block width only when the
 *   match info carries no block size. Missing match info counts as nothing cached (as upstream did
 *   when its prefix state was missing). `prefixPluginName`/`prefixPluginType` are accepted and unused.
 * - **decider form** (later releases): `deciderPluginName` (default `prefix-based-pd-decider`) names a
 *   decider declared in the same config.
 *
 * Which form: `threshold` or `hashBlockSize` present → threshold form; else `deciderPluginName`
 * given → decider form (must resolve); else a plugin named `prefix-based-pd-decider` declared →
 * decider form; else → threshold form with the seed-era default threshold 0 (always P/D), so a bare
 * `- type: pd-profile-handler` from a seed-era config loads and behaves as it did then.
 *
 * Both record `llm_d_inference_scheduler_pd_decision_total{model_name,decision_type,reason}` once per
 * request with the *outcome*: `prefill-decode`, or `decode-only` when the decider said no or no
 * prefill endpoint was found (upstream counted `prefill-decode` before the prefill run, even when it
 * then failed; the reason is then `no_prefill_pod`). The decision is on `SchedulingResult.pdDecision`.
 * This handler has **no PreRequest**: pair it with `prefill-header-handler` (or
 * `disagg-headers-handler`) to set `x-prefiller-host-port`.
 *
 * `primaryPort` (1–65535, Istio < 1.28.1 data-parallel only): sets `x-data-parallel-host-port` to the
 * chosen decode endpoint's `ip:port` and sends the request to `ip:primaryPort` instead.
 *
 * ```yaml
 * - type: prefill-header-handler
 * - type: pd-profile-handler
 *   parameters: {threshold: 100, hashBlockSize: 64}
 * ```
 *
 * Span per Pick: `llm_d.epp.pd.profile_handler.pick`; the deciding and completing ones also carry
 * `pd.decision.reason` and `pd.estimate.<name>`.
 */
import { z } from 'zod';
import type { Attributes } from '../../../src/telemetry/tracing.js';
import type { Logger } from '../../../src/log.js';
import { joinHostPort, type Endpoint } from '../../framework/endpoint.js';
import type { InferenceRequest } from '../../framework/request.js';
import { PREFIX_CACHE_MATCH_INFO, type SchedulingContext } from '../../framework/cycle-state.js';
import { ConfigError } from '../../framework/errors.js';
import {
  consumesOf, isDecider,
  type ConsumesAttributes, type Decider, type PdDecision, type ProfileHandler, type ProfileRunResult, type SchedulerProfile, type SchedulingResult,
} from '../../framework/plugins.js';
import { parseParameters, type PluginFactory } from '../../framework/registry.js';
import type { EppMetrics } from '../../metrics.js';
import { PREFIX_BASED_PD_DECIDER_TYPE } from '../deciders/prefix-based-pd-decider.js';
import { DATA_PARALLEL_HEADER } from '../../framework/director.js';
import { AVERAGE_BYTES_PER_TOKEN, readPrefixMatchInfo } from '../deciders/match-info.js';
import { DEFAULT_DECODE_PROFILE, DEFAULT_PREFILL_PROFILE } from './disagg-profile-handler.js';
import {
  UNPARSED_DECISION, finalPdDecision, firstTarget, inSpan, modelLabel, noDecodeEndpoint, recordStageFallback, resolveDecider, setDecisionAttributes, stageDecisions,
  type DecisionType,
} from './disagg-shared.js';

export const PD_PROFILE_HANDLER_TYPE = 'pd-profile-handler';
export const PD_PICK_SPAN = 'llm_d.epp.pd.profile_handler.pick';
/** Seed-era default of `hashBlockSize` (characters per prefix hash block). */
export const DEFAULT_HASH_BLOCK_SIZE = 64;

/** The seed-era byte-threshold rule. */
export interface ThresholdRule {
  /** Bytes of non-cached input that make P/D worth it; 0 = always P/D. */
  readonly threshold: number;
  /** Block width in bytes, used only when the match info has no block size. */
  readonly hashBlockSize: number;
}

export interface PdProfileHandlerOptions {
  decodeProfile?: string;
  prefillProfile?: string;
  /** Exactly one of `decider` and `threshold` decides; neither → always P/D. */
  decider?: Decider;
  threshold?: ThresholdRule;
  primaryPort?: number;
  metrics?: EppMetrics;
}

const ALWAYS: PdDecision = Object.freeze({ disaggregate: true, reason: 'always' });

export class PdProfileHandler implements ProfileHandler, ConsumesAttributes {
  readonly type = PD_PROFILE_HANDLER_TYPE;
  readonly decodeProfile: string;
  readonly prefillProfile: string;
  readonly decider: Decider | undefined;
  readonly threshold: ThresholdRule | undefined;
  readonly primaryPort: number | undefined;
  readonly consumes: readonly string[];
  private readonly metrics: EppMetrics | undefined;

  constructor(readonly name: string, options: PdProfileHandlerOptions = {}) {
    this.decodeProfile = options.decodeProfile || DEFAULT_DECODE_PROFILE;
    this.prefillProfile = options.prefillProfile || DEFAULT_PREFILL_PROFILE;
    this.decider = options.decider;
    this.threshold = options.decider ? undefined : options.threshold ?? { threshold: 0, hashBlockSize: DEFAULT_HASH_BLOCK_SIZE };
    this.primaryPort = options.primaryPort || undefined;
    this.metrics = options.metrics;
    this.consumes = this.decider ? consumesOf(this.decider) : this.threshold && this.threshold.threshold > 0 ? [PREFIX_CACHE_MATCH_INFO] : [];
  }

  pickProfiles(
    ctx: SchedulingContext,
    request: InferenceRequest,
    profiles: ReadonlyMap<string, SchedulerProfile>,
    results: ReadonlyMap<string, ProfileRunResult | null>,
  ): SchedulerProfile[] {
    return inSpan(PD_PICK_SPAN, request, (span) => {
      span['llm_d.profile_handler.total_profiles'] = profiles.size;
      span['llm_d.profile_handler.executed_profiles'] = results.size;
      if (!results.has(this.decodeProfile)) {
        const decode = profiles.get(this.decodeProfile);
        if (!decode) throw noDecodeEndpoint(ctx, this.decodeProfile, false);
        span['llm_d.profile_handler.decision'] = 'run_decode';
        span['llm_d.profile_handler.selected_profile'] = this.decodeProfile;
        return [decode];
      }
      const decodeEndpoint = firstTarget(results.get(this.decodeProfile));
      const decided = stageDecisions(ctx, this.name);
      const prefill = profiles.get(this.prefillProfile);
      if (!decodeEndpoint || !prefill || results.has(this.prefillProfile) || decided.has('prefill')) {
        span['llm_d.profile_handler.decision'] = 'complete';
        span['llm_d.profile_handler.decode_failed'] = !decodeEndpoint;
        if (decodeEndpoint) this.complete(ctx, request, results, decided.get('prefill'), span);
        return [];
      }
      const decision = request.unparsed ? UNPARSED_DECISION : this.decider ? this.decider.decide(ctx, request, decodeEndpoint) : this.thresholdDecision(ctx, request, decodeEndpoint);
      decided.set('prefill', decision);
      setDecisionAttributes(span, decision);
      if (!decision.disaggregate) {
        span['llm_d.profile_handler.decision'] = 'decode_only';
        this.complete(ctx, request, results, decision, span);
        return [];
      }
      span['llm_d.profile_handler.decision'] = 'prefill_decode';
      span['llm_d.profile_handler.selected_profile'] = this.prefillProfile;
      return [prefill];
    });
  }

  processResults(ctx: SchedulingContext, request: InferenceRequest, results: ReadonlyMap<string, ProfileRunResult | null>): SchedulingResult {
    const decode = results.get(this.decodeProfile);
    if (!decode || decode.targets.length === 0) throw noDecodeEndpoint(ctx, this.decodeProfile, true);
    const profileResults = new Map<string, ProfileRunResult | null>([[this.decodeProfile, this.primaryPort ? this.onPrimaryPort(request, decode) : decode]]);
    const prefill = results.get(this.prefillProfile);
    const prefillUsed = prefill !== null && prefill !== undefined && prefill.targets.length > 0;
    if (prefillUsed) profileResults.set(this.prefillProfile, prefill);
    const pdDecision = finalPdDecision(stageDecisions(ctx, this.name).get('prefill'), prefillUsed);
    return { primaryProfileName: this.decodeProfile, profileResults, pdDecision };
  }

  /** Start-up check against the configured profile names (called by the config loader). */
  validateProfiles(profileNames: readonly string[], logger: Logger): void {
    if (!profileNames.includes(this.decodeProfile)) {
      throw new ConfigError('parameters', `the decode profile "${this.decodeProfile}" is not among the scheduling profiles (${profileNames.join(', ')})`);
    }
    if (!profileNames.includes(this.prefillProfile)) {
      logger.warn({ plugin: this.name, profile: this.prefillProfile }, `there is no "${this.prefillProfile}" scheduling profile: every request is decode-only`);
    }
  }

  /** Seed-era rule: prefill iff the non-cached bytes reach the threshold (threshold 0 = always). */
  thresholdDecision(ctx: SchedulingContext, request: InferenceRequest, decodeEndpoint: Endpoint): PdDecision {
    const rule = this.threshold!;
    if (rule.threshold <= 0) return ALWAYS;
    const inputBytes = request.userInputBytes();
    const info = readPrefixMatchInfo(ctx, decodeEndpoint, this.name);
    const blockBytes = info && info.blockSizeTokens > 0 ? info.blockSizeTokens * AVERAGE_BYTES_PER_TOKEN : rule.hashBlockSize;
    const cachedBytes = (info?.matchBlocks ?? 0) * blockBytes;
    const nonCachedBytes = inputBytes - cachedBytes;
    ctx.logger.debug({ plugin: this.name, inputBytes, cachedBytes, nonCachedBytes, threshold: rule.threshold }, 'pd threshold decision');
    const estimates = { input_bytes: inputBytes, non_cached_bytes: nonCachedBytes };
    if (nonCachedBytes >= rule.threshold) return { disaggregate: true, reason: 'threshold_met', estimates };
    return { disaggregate: false, reason: inputBytes < rule.threshold ? 'short_input' : 'cached', estimates };
  }

  private complete(
    ctx: SchedulingContext, request: InferenceRequest, results: ReadonlyMap<string, ProfileRunResult | null>, wanted: PdDecision | undefined, span: Attributes,
  ): void {
    const prefillUsed = firstTarget(results.get(this.prefillProfile)) !== undefined;
    if (wanted?.disaggregate && !prefillUsed) recordStageFallback(ctx, request, this.metrics, 'prefill', this.prefillProfile);
    const decision: DecisionType = prefillUsed ? 'prefill-decode' : 'decode-only';
    const pd = finalPdDecision(wanted, prefillUsed);
    setDecisionAttributes(span, pd);
    this.metrics?.pdDecision.inc({ model_name: modelLabel(request), decision_type: decision, reason: pd.reason });
  }

  /** Data-parallel (Istio < 1.28.1): route to the primary port, tell the sidecar the rank's port. */
  private onPrimaryPort(request: InferenceRequest, decode: ProfileRunResult): ProfileRunResult {
    const port = this.primaryPort!;
    request.headers.set(DATA_PARALLEL_HEADER, decode.targets[0]!.hostPort);
    return { targets: decode.targets.map((endpoint) => ({ ...endpoint, port, hostPort: joinHostPort(endpoint.address, port) })) };
  }
}

const Parameters = z.looseObject({
  decodeProfile: z.string().optional(),
  prefillProfile: z.string().optional(),
  prefixPluginType: z.string().optional(),
  prefixPluginName: z.string().optional(),
  primaryPort: z.number().int().min(0).max(65535, 'primaryPort must be between 1 and 65535').default(0),
  deciderPluginName: z.string().optional(),
  threshold: z.number().int().min(0, 'threshold (bytes) cannot be negative').optional(),
  hashBlockSize: z.number().int().positive('hashBlockSize must be > 0').optional(),
});

export const pdProfileHandlerFactory: PluginFactory = (name, parameters, handle) => {
  const p = parseParameters(Parameters, parameters);
  handle.logger.warn({ plugin: name }, 'pd-profile-handler is deprecated upstream; disagg-profile-handler with deciders replaces it');
  const seedEra = p.threshold !== undefined || p.hashBlockSize !== undefined;
  if (seedEra && p.deciderPluginName) {
    throw new ConfigError('parameters', 'threshold/hashBlockSize (seed-era rule) cannot be combined with deciderPluginName: use one or the other');
  }
  if (p.primaryPort) handle.logger.warn({ plugin: name }, 'primaryPort is only needed with Istio < 1.28.1');
  let decider: Decider | undefined;
  if (p.deciderPluginName) {
    decider = resolveDecider(handle, p.deciderPluginName, 'parameters.deciderPluginName');
  } else if (!seedEra) {
    const declared = handle.plugin(PREFIX_BASED_PD_DECIDER_TYPE);
    if (declared && isDecider(declared)) decider = declared;
    else handle.logger.info({ plugin: name }, `no decider declared: using the seed-era threshold rule with threshold 0 (always P/D)`);
  }
  return new PdProfileHandler(name, {
    decodeProfile: p.decodeProfile,
    prefillProfile: p.prefillProfile,
    decider,
    threshold: decider ? undefined : { threshold: p.threshold ?? 0, hashBlockSize: p.hashBlockSize ?? DEFAULT_HASH_BLOCK_SIZE },
    primaryPort: p.primaryPort,
    metrics: handle.metrics,
  });
};

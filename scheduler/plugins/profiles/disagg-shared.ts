/**
 * What the P/D profile handlers share: the decision type of a finished request, the decision
 * counters, the final P/D decision and its span attributes, the decode-failure error and a
 * synchronous span helper for their Pick calls.
 */
import { SpanKind, markError, tracer, type Attributes } from '../../../src/telemetry/tracing.js';
import type { Endpoint } from '../../framework/endpoint.js';
import type { InferenceRequest } from '../../framework/request.js';
import type { SchedulingContext } from '../../framework/cycle-state.js';
import { EPP_TRACER } from '../../framework/director.js';
import { ConfigError, SchedulingError } from '../../framework/errors.js';
import { isDecider, type Decider, type PdDecision, type Plugin, type ProfileRunResult } from '../../framework/plugins.js';
import type { PluginHandle } from '../../framework/registry.js';
import type { EppMetrics } from '../../metrics.js';

export type DecisionType = 'decode-only' | 'prefill-decode' | 'encode-decode' | 'encode-prefill-decode';

/** `decision_type` from which optional stages produced a result. */
export function decisionType(encodeUsed: boolean, prefillUsed: boolean): DecisionType {
  if (encodeUsed) return prefillUsed ? 'encode-prefill-decode' : 'encode-decode';
  return prefillUsed ? 'prefill-decode' : 'decode-only';
}

/** The `model_name` label upstream uses: the target model, or `unknown`. */
export function modelLabel(request: InferenceRequest): string {
  return request.targetModel || 'unknown';
}

/**
 * A stage whose decider said yes but whose profile found no endpoint: the request goes on without
 * it (decode-only for prefill). Logged at info and counted in `pd_router_prefill_unavailable_total`.
 */
export function recordStageFallback(
  ctx: SchedulingContext, request: InferenceRequest, metrics: EppMetrics | undefined, stage: 'prefill' | 'encode', profile: string,
): void {
  const reason = stage === 'prefill' ? 'no_prefill_endpoint' : 'no_encode_endpoint';
  ctx.logger.info({ model: request.targetModel, profile, reason },
    stage === 'prefill' ? 'P/D wanted but no prefill endpoint is available: serving decode-only' : 'encode wanted but no encode endpoint is available: continuing without encode');
  metrics?.prefillFallback.inc({ model_name: modelLabel(request), reason });
}

/** The 503 for a request no decode endpoint can serve (upstream answers 429; llm-d#2631 makes it 503). */
export function noDecodeEndpoint(ctx: SchedulingContext, profile: string, ran: boolean): SchedulingError {
  const why = ran
    ? `none of the ${ctx.candidates.length} candidate endpoint(s) passed the filters of scheduling profile "${profile}"`
    : `scheduling profile "${profile}" is not configured`;
  return new SchedulingError(503, `no decode endpoint available: ${why}`);
}

export function firstTarget(result: ProfileRunResult | null | undefined): Endpoint | undefined {
  return result?.targets[0];
}

/** Per-request record of the decisions a handler already took, by stage (CycleState). */
export function stageDecisions(ctx: SchedulingContext, handler: string): Map<string, PdDecision> {
  const key = `${handler}/stage-decisions`;
  let decisions = ctx.state.get(key) as Map<string, PdDecision> | undefined;
  if (!decisions) {
    decisions = new Map();
    ctx.state.set(key, decisions);
  }
  return decisions;
}

/** The decision of a stage with no decider (or no profile): never run. */
export const DISABLED_DECISION: PdDecision = Object.freeze({ disaggregate: false, reason: 'disabled' });

/** A request whose body was not read (passthrough parser) has no prompt to decide on: decode-only. */
export const UNPARSED_DECISION: PdDecision = Object.freeze({ disaggregate: false, reason: 'unparsed' });

/**
 * What actually happened to the prefill stage: the decider's decision, except that a yes whose
 * prefill profile found no endpoint becomes `no_prefill_pod` (served decode-only), keeping the
 * decider's estimates.
 */
export function finalPdDecision(wanted: PdDecision | undefined, prefillUsed: boolean): PdDecision {
  if (!wanted) return DISABLED_DECISION;
  if (wanted.disaggregate && !prefillUsed) return { disaggregate: false, reason: 'no_prefill_pod', ...(wanted.estimates ? { estimates: wanted.estimates } : {}) };
  return wanted;
}

/** Span attributes of a P/D decision: `pd.decision.reason` and `pd.estimate.<name>` per estimate. */
export function setDecisionAttributes(attributes: Attributes, decision: PdDecision): void {
  attributes['pd.decision.reason'] = decision.reason;
  for (const [name, value] of Object.entries(decision.estimates ?? {})) attributes[`pd.estimate.${name}`] = value;
}

/** Runs synchronous work in an INTERNAL span of the EPP tracer; `attributes` is written at the end. */
export function inSpan<T>(name: string, request: InferenceRequest, work: (attributes: Attributes) => T): T {
  const attributes: Attributes = { 'gen_ai.request.id': request.id };
  if (request.targetModel) attributes['gen_ai.request.model'] = request.targetModel;
  const span = tracer(EPP_TRACER).startSpan(name, { kind: SpanKind.INTERNAL });
  try {
    return work(attributes);
  } catch (err) {
    markError(span, err);
    throw err;
  } finally {
    span.setAttributes(attributes);
    span.end();
  }
}

/** Looks up a decider declared in the config; `path` is the parameter that named it. */
export function resolveDecider(handle: PluginHandle, name: string, path: string): Decider {
  const plugin: Plugin | undefined = handle.plugin(name);
  if (!plugin) throw new ConfigError(path, `decider plugin "${name}" is not declared (add it under plugins:)`);
  if (!isDecider(plugin)) throw new ConfigError(path, `plugin "${name}" (type ${plugin.type}) is not a decider`);
  return plugin;
}

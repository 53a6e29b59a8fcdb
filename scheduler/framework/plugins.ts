/**
 * Plugin kinds, as llm-d names them. A plugin is `{ type, name }` plus the methods of its kind(s);
 * one object may implement several kinds (e.g. a scorer that is also a PreRequest). The kind is
 * found from the methods present, like Go's interface assertions.
 */
import type { Endpoint } from './endpoint.js';
import type { InferenceRequest } from './request.js';
import type { SchedulingContext } from './cycle-state.js';

export interface Plugin {
  /** llm-d type string, e.g. `queue-scorer`. */
  readonly type: string;
  /** Instance name from the config (defaults to the type). */
  readonly name: string;
}

export type MaybePromise<T> = T | Promise<T>;

/** Narrows the candidate list; must keep input order. */
export interface Filter extends Plugin {
  filter(ctx: SchedulingContext, request: InferenceRequest, endpoints: readonly Endpoint[]): Endpoint[];
}

/** Scores candidates in [0,1]; endpoints absent from the map score 0. */
export interface Scorer extends Plugin {
  score(ctx: SchedulingContext, request: InferenceRequest, endpoints: readonly Endpoint[]): MaybePromise<ReadonlyMap<Endpoint, number>>;
}

export interface ScoredEndpoint {
  readonly endpoint: Endpoint;
  readonly score: number;
}

/** Chooses the targets of one profile run among scored endpoints. */
export interface Picker extends Plugin {
  pick(ctx: SchedulingContext, request: InferenceRequest, scored: readonly ScoredEndpoint[]): ProfileRunResult;
}

export interface ProfileRunResult {
  /** Chosen endpoints, best first. */
  readonly targets: readonly Endpoint[];
  /** Every endpoint the picker chose among, with its weighted score (set by the Scheduler). */
  readonly scored?: readonly ScoredEndpoint[];
}

export interface WeightedScorer {
  readonly scorer: Scorer;
  readonly weight: number;
}

/** A named pipeline: filters → weighted scorers → picker. */
export interface SchedulerProfile {
  readonly name: string;
  readonly filters: readonly Filter[];
  readonly scorers: readonly WeightedScorer[];
  readonly picker: Picker;
}

/**
 * Why a P/D decider chose as it did: a stable, low-cardinality `reason` (a metric label, a span
 * attribute and a field of the per-request log line) and the numbers it compared.
 */
export interface PdDecision {
  readonly disaggregate: boolean;
  readonly reason: string;
  readonly estimates?: Readonly<Record<string, number>>;
}

export interface SchedulingResult {
  readonly primaryProfileName: string;
  readonly profileResults: ReadonlyMap<string, ProfileRunResult | null>;
  /** Set by P/D profile handlers: whether a prefill stage was chosen, and why. */
  readonly pdDecision?: PdDecision;
}

/** Decides which profiles run next, and turns all runs into the final result. */
export interface ProfileHandler extends Plugin {
  /** Profiles to run in this round; an empty array ends the loop. */
  pickProfiles(
    ctx: SchedulingContext,
    request: InferenceRequest,
    profiles: ReadonlyMap<string, SchedulerProfile>,
    results: ReadonlyMap<string, ProfileRunResult | null>,
  ): MaybePromise<SchedulerProfile[]>;
  /** Throws a SchedulingError when the results cannot serve the request. */
  processResults(ctx: SchedulingContext, request: InferenceRequest, results: ReadonlyMap<string, ProfileRunResult | null>): SchedulingResult;
}

/** Runs after scheduling, before forwarding: sets routing headers, bookkeeping. */
export interface PreRequest extends Plugin {
  preRequest(ctx: SchedulingContext, request: InferenceRequest, result: SchedulingResult): MaybePromise<void>;
}

export interface ResponseInfo {
  readonly status: number;
  readonly headers: ReadonlyMap<string, string>;
  readonly usage?: { promptTokens?: number; completionTokens?: number; cachedTokens?: number };
  /** True when the response ended normally (false: upstream error or client gone). */
  readonly completed: boolean;
}

/** Runs once per request when the response is done (or the request failed after dispatch). */
export interface ResponseComplete extends Plugin {
  responseComplete(request: InferenceRequest, response: ResponseInfo, targets: readonly Endpoint[]): void;
}

/** One value a ResponseReporter returns to the proxy: `dynamic_metadata[namespace][name] = value`. */
export interface ReportedAttribute {
  readonly namespace: string;
  readonly name: string;
  readonly value: number;
}

/**
 * Computes values from a finished response (e.g. its usage) that the ext_proc front door returns to
 * Envoy as dynamic metadata on the last response message (llm-d's ResponseBody processors).
 */
export interface ResponseReporter extends Plugin {
  reportResponse(response: ResponseInfo): ReportedAttribute | undefined;
}

/**
 * Computes per-request, per-endpoint attributes before scheduling (e.g. prefix-cache match info)
 * that scorers and deciders consume.
 */
export interface DataProducer extends Plugin {
  /** Attribute keys written. */
  readonly produces: readonly string[];
  produce(ctx: SchedulingContext, request: InferenceRequest, endpoints: readonly Endpoint[]): MaybePromise<void>;
}

/**
 * P/D (or E/PD) decision for one request given the chosen decode endpoint: whether to run the
 * stage, and why (a reason from the decider's small fixed set; see docs/configuration.md).
 */
export interface Decider extends Plugin {
  decide(ctx: SchedulingContext, request: InferenceRequest, decodeEndpoint: Endpoint | undefined): PdDecision;
}

/**
 * A plugin with start-up work the EPP waits for before it reports ready (gRPC health SERVING), e.g.
 * loading the tokenizers its config names in every worker.
 */
export interface StartsUp extends Plugin {
  /** Resolves once the plugin serves as configured; rejects when it never will (the EPP then fails to start). */
  whenReady(): Promise<void>;
}

/** Plugins that declare which attributes they read, so missing producers can be injected. */
export interface ConsumesAttributes {
  readonly consumes: readonly string[];
}

const hasMethod = (plugin: Plugin, method: string): boolean => typeof (plugin as unknown as Record<string, unknown>)[method] === 'function';

export const isFilter = (p: Plugin): p is Filter => hasMethod(p, 'filter');
export const isScorer = (p: Plugin): p is Scorer => hasMethod(p, 'score');
export const isPicker = (p: Plugin): p is Picker => hasMethod(p, 'pick');
export const isProfileHandler = (p: Plugin): p is ProfileHandler => hasMethod(p, 'pickProfiles') && hasMethod(p, 'processResults');
export const isPreRequest = (p: Plugin): p is PreRequest => hasMethod(p, 'preRequest');
export const isResponseComplete = (p: Plugin): p is ResponseComplete => hasMethod(p, 'responseComplete');
export const isResponseReporter = (p: Plugin): p is ResponseReporter => hasMethod(p, 'reportResponse');
export const isDataProducer = (p: Plugin): p is DataProducer => hasMethod(p, 'produce') && Array.isArray((p as DataProducer).produces);
export const isDecider = (p: Plugin): p is Decider => hasMethod(p, 'decide');
export const startsUp = (p: Plugin): p is StartsUp => hasMethod(p, 'whenReady');
export const consumesOf = (p: Plugin): readonly string[] => {
  const consumes = (p as Partial<ConsumesAttributes>).consumes;
  return Array.isArray(consumes) ? consumes : [];
};

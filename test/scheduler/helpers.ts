/**
 * Builders for scheduler tests: endpoints, requests, scheduling contexts and plugin handles made of
 * the real framework types (no mocks). Shared by every scheduler test suite — keep it general.
 */
import { pino, type Logger } from 'pino';
import { emptyMetrics, joinHostPort, ROLE_LABEL, type Endpoint, type EndpointMetrics } from '../../scheduler/framework/endpoint.js';
import { createInferenceRequest, type InferenceRequest } from '../../scheduler/framework/request.js';
import { SchedulingContext } from '../../scheduler/framework/cycle-state.js';
import type { PluginHandle } from '../../scheduler/framework/registry.js';
import type { Plugin, ProfileRunResult, ScoredEndpoint, SchedulingResult } from '../../scheduler/framework/plugins.js';
import { BodyBytes } from '../../src/http/body-bytes.js';
import { parseInferenceBody } from '../../src/openai/parse.js';
import type { ApiKind } from '../../src/openai/types.js';
import { seededRandom } from '../../src/random.js';

/** A logger that drops everything. */
export const silentLogger: Logger = pino({ level: 'silent' });

/** A logger that keeps every record (parsed JSON) for assertions on warnings. */
export function captureLogger(level = 'trace'): { logger: Logger; records: Array<Record<string, unknown>> } {
  const records: Array<Record<string, unknown>> = [];
  const logger = pino({ level }, { write: (line: string) => void records.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, records };
}

/** pino's numeric level of `warn`. */
export const WARN_LEVEL = 40;

export interface EndpointInit {
  name: string;
  namespace?: string;
  address?: string;
  port?: number;
  /** Sets the `llm-d.ai/role` label. */
  role?: string;
  labels?: Record<string, string>;
  metrics?: Partial<EndpointMetrics>;
}

let nextAddress = 1;

/** An Endpoint as the datalayer would produce it; the address is unique unless given. */
export function makeEndpoint(init: EndpointInit): Endpoint {
  const address = init.address ?? `10.0.${Math.floor(nextAddress / 250)}.${(nextAddress++ % 250) + 1}`;
  const port = init.port ?? 8000;
  const labels: Record<string, string> = { ...init.labels };
  if (init.role !== undefined) labels[ROLE_LABEL] = init.role;
  return {
    name: init.name,
    namespace: init.namespace ?? 'default',
    address,
    port,
    hostPort: joinHostPort(address, port),
    labels,
    metricsHost: joinHostPort(address, port),
    metrics: { ...emptyMetrics(), ...init.metrics },
  };
}

export interface RequestInit {
  api?: ApiKind;
  id?: string;
  headers?: Record<string, string>;
  targetModel?: string;
}

const PATHS: Record<ApiKind, string> = {
  completions: '/v1/completions',
  chat_completions: '/v1/chat/completions',
  responses: '/v1/responses',
};

function apiOf(body: Record<string, unknown>): ApiKind {
  if ('messages' in body) return 'chat_completions';
  if ('input' in body) return 'responses';
  return 'completions';
}

let nextRequestId = 1;

/**
 * An InferenceRequest parsed exactly like the front doors do. The API is inferred from the body
 * (`messages` → chat, `input` → responses, otherwise completions) unless `init.api` says.
 */
export function makeRequest(body: Record<string, unknown> | string, init: RequestInit = {}): InferenceRequest {
  const raw = typeof body === 'string' ? body : JSON.stringify(body);
  const api = init.api ?? apiOf(typeof body === 'string' ? (JSON.parse(body) as Record<string, unknown>) : body);
  const headers = new Map(Object.entries(init.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v] as const));
  return createInferenceRequest({
    id: init.id ?? `req-${nextRequestId++}`,
    path: PATHS[api],
    headers,
    body: parseInferenceBody(api, raw),
    rawBody: BodyBytes.of(Buffer.from(raw)),
    ...(init.targetModel !== undefined ? { targetModel: init.targetModel } : {}),
  });
}

/** A chat request with one user message. */
export function chatRequest(content: string, init: RequestInit & { model?: string } = {}): InferenceRequest {
  return makeRequest({ model: init.model ?? 'm', messages: [{ role: 'user', content }] }, init);
}

export function makeContext(candidates: readonly Endpoint[], logger: Logger = silentLogger): SchedulingContext {
  return new SchedulingContext(candidates, logger);
}

export interface HandleInit {
  logger?: Logger;
  /** The endpoint set `handle.endpoints()` returns; a function is called on every use. */
  endpoints?: readonly Endpoint[] | (() => readonly Endpoint[]);
  plugins?: Record<string, Plugin>;
}

export function makeHandle(init: HandleInit = {}): PluginHandle {
  const endpoints = init.endpoints ?? [];
  return {
    logger: init.logger ?? silentLogger,
    plugin: (name) => init.plugins?.[name],
    endpoints: () => (typeof endpoints === 'function' ? endpoints() : endpoints),
  };
}

/** Pairs endpoints with scores, in order. */
export function scored(endpoints: readonly Endpoint[], scores: readonly number[]): ScoredEndpoint[] {
  return endpoints.map((endpoint, i) => ({ endpoint, score: scores[i] ?? 0 }));
}

/** A SchedulingResult whose profiles picked the given endpoints; the first profile is primary. */
export function makeResult(profiles: Record<string, readonly Endpoint[] | null>, primaryProfileName?: string): SchedulingResult {
  const profileResults = new Map<string, ProfileRunResult | null>();
  for (const [name, targets] of Object.entries(profiles)) profileResults.set(name, targets === null ? null : { targets });
  return { primaryProfileName: primaryProfileName ?? Object.keys(profiles)[0] ?? 'default', profileResults };
}

export { seededRandom };

/** A score map keyed by endpoint name, for readable assertions. */
export function scoresByName(scores: ReadonlyMap<Endpoint, number>): Record<string, number> {
  return Object.fromEntries([...scores].map(([endpoint, score]) => [endpoint.name, score]));
}

/**
 * `session-affinity-scorer`: sticky sessions. The client echoes a token naming the endpoint that
 * served its previous request; that endpoint scores 1, every other 0.
 *
 * Input: request header `x-session-token` (configurable) = standard base64 (with padding) of
 * `<namespace>/<endpoint name>`, e.g. `default/vllm-0-rank-0`. No header, a token that is not valid
 * base64, or one naming no candidate → every candidate scores 0 (no preference). Category: affinity.
 *
 * Writing the token: upstream sets it on the *response* (a response-header hook; seed-era upstream
 * did it at end-of-stream, too late for clients, #1597). The framework here has no response-header
 * hook, so this plugin only scores; the front door can set the header with `encodeSessionToken()`.
 *
 * Parameters:
 * - `encodedEndpointHeaderConfig.header` (string, default `x-session-token`): the header name.
 * - `profileName` (string): accepted for config compatibility; it only matters for writing tokens.
 * - `strategy` (string, default `encoded_endpoint_header`): the only one supported; upstream's
 *   stateful `session_id` strategy is a configuration error here rather than silently ignored.
 * Other keys stop start-up with their YAML path.
 *
 * ```yaml
 * - type: session-affinity-scorer
 * schedulingProfiles:
 * - name: decode
 *   plugins: [{pluginRef: session-affinity-scorer, weight: 10}]
 * ```
 */
import { z } from 'zod';
import type { SchedulingContext } from '../../framework/cycle-state.js';
import type { Endpoint } from '../../framework/endpoint.js';
import { ConfigError } from '../../framework/errors.js';
import type { Scorer } from '../../framework/plugins.js';
import type { InferenceRequest } from '../../framework/request.js';
import { parseParameters, type PluginFactory } from '../../framework/registry.js';
import type { ScorerCategory } from './common.js';

export const SESSION_AFFINITY_SCORER_TYPE = 'session-affinity-scorer';
export const SESSION_TOKEN_HEADER = 'x-session-token';
const ENCODED_ENDPOINT_HEADER_STRATEGY = 'encoded_endpoint_header';

const SessionAffinityParameters = z.object({
  strategy: z.string().nullish(),
  profileName: z.string().nullish(),
  encodedEndpointHeaderConfig: z.object({ header: z.string().nullish() }).nullish(),
});

/** The endpoint's identity as llm-d writes it in the token: `namespace/name`. */
export function sessionIdOf(endpoint: Endpoint): string {
  return `${endpoint.namespace}/${endpoint.name}`;
}

/** The token value naming `endpoint` (what a response should carry). */
export function encodeSessionToken(endpoint: Endpoint): string {
  return Buffer.from(sessionIdOf(endpoint), 'utf8').toString('base64');
}

const STD_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Decodes a token like Go's `base64.StdEncoding` (strict alphabet and padding; CR/LF ignored);
 * undefined when it is not valid base64. Node's own decoder accepts garbage, hence the check.
 */
export function decodeSessionToken(token: string): string | undefined {
  const compact = token.replace(/[\r\n]/g, '');
  if (compact === '' || !STD_BASE64.test(compact)) return undefined;
  return Buffer.from(compact, 'base64').toString('utf8');
}

export class SessionAffinityScorer implements Scorer {
  readonly type = SESSION_AFFINITY_SCORER_TYPE;
  readonly category: ScorerCategory = 'affinity';
  readonly name: string;
  readonly header: string;

  constructor(name: string, header: string = SESSION_TOKEN_HEADER) {
    this.name = name;
    this.header = header.trim().toLowerCase() || SESSION_TOKEN_HEADER;
  }

  score(ctx: SchedulingContext, request: InferenceRequest, endpoints: readonly Endpoint[]): Map<Endpoint, number> {
    const token = request.headers.get(this.header);
    let sessionId: string | undefined;
    if (token) {
      sessionId = decodeSessionToken(token);
      if (sessionId === undefined) ctx.logger.debug({ plugin: this.name, header: this.header }, 'session token is not valid base64; ignoring it');
    }
    return new Map(endpoints.map((endpoint) => [endpoint, sessionId !== undefined && sessionIdOf(endpoint) === sessionId ? 1 : 0]));
  }
}

export const sessionAffinityScorerFactory: PluginFactory = (name, parameters) => {
  const params = parseParameters(SessionAffinityParameters, parameters);
  const strategy = params.strategy || ENCODED_ENDPOINT_HEADER_STRATEGY;
  if (strategy !== ENCODED_ENDPOINT_HEADER_STRATEGY) {
    throw new ConfigError('parameters.strategy', `"${strategy}" is not supported; only "${ENCODED_ENDPOINT_HEADER_STRATEGY}" is`);
  }
  return new SessionAffinityScorer(name, params.encodedEndpointHeaderConfig?.header ?? SESSION_TOKEN_HEADER);
};

/**
 * Test fixtures for the ext_proc front door: real framework objects (a role filter, a first-endpoint
 * picker, a decode-then-prefill profile handler, a PreRequest writing the prefill header, a
 * ResponseComplete recorder) and a Director built from them with the real Scheduler.
 */
import { pino, type Logger } from 'pino';
import { Director, PREFILL_HEADER } from '../../../scheduler/framework/director.js';
import { emptyMetrics, joinHostPort, roleOf, ROLE_LABEL, type Endpoint } from '../../../scheduler/framework/endpoint.js';
import { SchedulingError } from '../../../scheduler/framework/errors.js';
import type {
  Filter, Picker, PreRequest, ProfileHandler, ProfileRunResult, ResponseComplete, ResponseInfo, SchedulerProfile, SchedulingResult,
} from '../../../scheduler/framework/plugins.js';
import type { InferenceRequest } from '../../../scheduler/framework/request.js';
import { Scheduler } from '../../../scheduler/framework/scheduler.js';
import type { EppMetrics } from '../../../scheduler/metrics.js';

export const silentLogger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

/** A real pino logger whose JSON lines are kept in `lines` (parsed). */
export function capturingLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => { lines.push(JSON.parse(line) as Record<string, unknown>); } });
  return { logger, lines };
}

/** The per-request log lines (the lifecycle's, keyed by requestId with a frontDoor). */
export function requestLines(lines: Array<Record<string, unknown>>, requestId?: string): Array<Record<string, unknown>> {
  return lines.filter((l) => l.frontDoor !== undefined && (requestId === undefined || l.requestId === requestId));
}

export function endpoint(name: string, address: string, port: number, role?: string): Endpoint {
  return {
    name, namespace: 'default', address, port, hostPort: joinHostPort(address, port),
    labels: role ? { [ROLE_LABEL]: role } : {}, metricsHost: joinHostPort(address, port), metrics: emptyMetrics(),
  };
}

/** Keeps endpoints whose role is one of `roles` (unlabelled counts as decode). */
class RoleFilter implements Filter {
  readonly type = 'role-filter';
  constructor(readonly name: string, private readonly roles: readonly string[]) {}
  filter(_ctx: unknown, _request: InferenceRequest, endpoints: readonly Endpoint[]): Endpoint[] {
    return endpoints.filter((e) => this.roles.includes(roleOf(e) ?? 'decode'));
  }
}

class FirstPicker implements Picker {
  readonly type = 'first-picker';
  readonly name = 'first-picker';
  pick(_ctx: unknown, _request: InferenceRequest, scored: readonly { endpoint: Endpoint }[]): ProfileRunResult {
    return { targets: scored.slice(0, 1).map((s) => s.endpoint) };
  }
}

/** Decode first; then prefill when the user input is at least `threshold` bytes. */
class DecodeThenPrefill implements ProfileHandler {
  readonly type = 'decode-then-prefill';
  readonly name = 'decode-then-prefill';
  constructor(private readonly threshold: number) {}
  pickProfiles(_ctx: unknown, request: InferenceRequest, profiles: ReadonlyMap<string, SchedulerProfile>, results: ReadonlyMap<string, ProfileRunResult | null>): SchedulerProfile[] {
    if (!results.has('decode')) return [profiles.get('decode')!];
    const decode = results.get('decode');
    if (!decode || results.has('prefill')) return [];
    return request.userInputBytes() >= this.threshold ? [profiles.get('prefill')!] : [];
  }
  processResults(_ctx: unknown, _request: InferenceRequest, results: ReadonlyMap<string, ProfileRunResult | null>): SchedulingResult {
    if (!results.get('decode')) throw new SchedulingError(503, 'failed to find available decode workers');
    const disaggregate = Boolean(results.get('prefill'));
    return { primaryProfileName: 'decode', profileResults: results, pdDecision: { disaggregate, reason: disaggregate ? 'long-input' : 'short-input' } };
  }
}

class PrefillHeader implements PreRequest {
  readonly type = 'prefill-header';
  readonly name = 'prefill-header';
  preRequest(_ctx: unknown, request: InferenceRequest, result: SchedulingResult): void {
    request.headers.delete(PREFILL_HEADER);
    const prefill = result.profileResults.get('prefill')?.targets[0];
    if (prefill) request.headers.set(PREFILL_HEADER, prefill.hostPort);
  }
}

export interface Completion {
  request: InferenceRequest;
  response: ResponseInfo;
  targets: readonly Endpoint[];
}

export class CompletionRecorder implements ResponseComplete {
  readonly type = 'completion-recorder';
  readonly name = 'completion-recorder';
  readonly calls: Completion[] = [];
  responseComplete(request: InferenceRequest, response: ResponseInfo, targets: readonly Endpoint[]): void {
    this.calls.push({ request, response, targets });
  }
}

export interface FixtureDirector {
  director: Director;
  completions: CompletionRecorder;
  endpoints: Endpoint[];
}

/** A P/D Director over a mutable endpoint list (replace its contents to change the pool). */
export function buildDirector(options: { endpoints: Endpoint[]; threshold?: number; metrics?: EppMetrics }): FixtureDirector {
  const picker = new FirstPicker();
  const profiles = new Map<string, SchedulerProfile>([
    ['decode', { name: 'decode', filters: [new RoleFilter('decode-filter', ['decode', 'both'])], scorers: [], picker }],
    ['prefill', { name: 'prefill', filters: [new RoleFilter('prefill-filter', ['prefill', 'both'])], scorers: [], picker }],
  ]);
  const completions = new CompletionRecorder();
  const director = new Director({
    scheduler: new Scheduler(new DecodeThenPrefill(options.threshold ?? 100), profiles),
    endpoints: () => options.endpoints,
    preRequests: [new PrefillHeader()],
    responseCompletes: [completions],
    logger: silentLogger,
    metrics: options.metrics,
  });
  return { director, completions, endpoints: options.endpoints };
}

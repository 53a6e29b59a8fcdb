/**
 * List + watch of one collection, kept as a local cache (client-go's Reflector, small): list once,
 * then watch from the list's resourceVersion; a clean end of the watch (server timeout, inactivity)
 * re-watches from the last version; `410 Gone` relists; any other failure — API server restart,
 * refused connection, 5xx, missing RBAC — retries with capped exponential backoff while the cache
 * keeps the last good objects, so an outage never empties what consumers see.
 *
 * Built on @kubernetes/client-node: its `Watch` for the streaming half, the typed API clients for
 * the list (passed in as `list`), and the kubeconfig's authentication for both.
 */
import { Observable, Watch, type ConfigurationOptions, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../log.js';
import { objectName, resourceVersionOf } from './pool-spec.js';

export interface ListResult {
  items: unknown[];
  metadata?: { resourceVersion?: string };
}

export interface Backoff {
  /** First retry delay. */
  initialMs: number;
  /** Delays double up to this. */
  maxMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { initialMs: 250, maxMs: 10_000 };

/** Lists (and watches) longer than this are abandoned and retried. */
const LIST_TIMEOUT_MS = 30_000;

export interface ReflectorOptions {
  /** Names the collection in logs, e.g. `pods app=vllm in ns/llm`. */
  description: string;
  kubeConfig: KubeConfig;
  /** One list call; `options` carries the abort signal (pass it to the API client). */
  list: (options: ConfigurationOptions) => Promise<ListResult>;
  /** The collection's URL path, e.g. `/api/v1/namespaces/llm/pods`. */
  path: string;
  /** labelSelector / fieldSelector for the watch (the list applies its own). */
  query: Record<string, string>;
  /** Called after the first list and after every change, with the whole cache. */
  onChange: (objects: ReadonlyMap<string, unknown>) => void;
  logger: Logger;
  backoff?: Backoff;
}

interface WatchOutcome {
  error?: unknown;
  gone: boolean;
  events: number;
  durationMs: number;
}

/** A watch that stayed open this long and then ended cleanly was a routine server-side timeout. */
const ROUTINE_WATCH_MS = 5_000;

/** The HTTP status of a client-node error (ApiException.code, Watch's statusCode). */
export function statusOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const record = err as { code?: unknown; statusCode?: unknown };
  if (typeof record.statusCode === 'number') return record.statusCode;
  return typeof record.code === 'number' ? record.code : undefined;
}

/** Request options that make a generated-client call abortable. */
export function abortable(signal: AbortSignal): ConfigurationOptions {
  return {
    middleware: [{
      pre: (ctx) => {
        ctx.setSignal(signal);
        return new Observable(Promise.resolve(ctx));
      },
      post: (response) => new Observable(Promise.resolve(response)),
    }],
    middlewareMergeStrategy: 'append',
  };
}

export class Reflector {
  private readonly options: ReflectorOptions;
  private readonly watch: Watch;
  private readonly backoff: Backoff;
  private objects = new Map<string, unknown>();
  private resourceVersion = '';
  private closed = false;
  private started = false;
  private controller: AbortController | undefined;
  private sleepTimer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  private failures = 0;
  /** True once the first list has landed (and stays true through outages). */
  synced = false;

  constructor(options: ReflectorOptions) {
    this.options = options;
    this.watch = new Watch(options.kubeConfig);
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    void this.run();
  }

  get items(): ReadonlyMap<string, unknown> {
    return this.objects;
  }

  /** Stops the watch, any pending list and the retry timer. */
  close(): void {
    this.closed = true;
    this.controller?.abort();
    clearTimeout(this.sleepTimer);
    this.wake?.();
  }

  private async run(): Promise<void> {
    const { logger, description } = this.options;
    while (!this.closed) {
      try {
        if (!this.resourceVersion) await this.relist();
        if (this.closed) return;
        const outcome = await this.watchOnce();
        if (this.closed) return;
        if (outcome.gone) {
          logger.debug({ collection: description }, 'watch expired (410 Gone); relisting');
          this.resourceVersion = '';
          continue;
        }
        const timedOut = outcome.error instanceof Error && outcome.error.name === 'TimeoutError';
        if (outcome.error !== undefined && outcome.error !== null && !timedOut) throw outcome.error;
        // A clean end is routine (server-side timeout); a quick one that delivered nothing may be a
        // server closing streams in a loop, so that case backs off.
        if (outcome.events > 0 || timedOut || outcome.durationMs >= ROUTINE_WATCH_MS) this.failures = 0;
        else await this.sleep(this.nextDelay());
      } catch (err) {
        if (this.closed) return;
        const delayMs = this.nextDelay();
        logger.warn({ collection: description, err: describeError(err), status: statusOf(err), retryInMs: delayMs, keeping: this.objects.size }, 'Kubernetes list/watch failed; keeping the last known state and retrying');
        await this.sleep(delayMs);
      }
    }
  }

  private async relist(): Promise<void> {
    const controller = new AbortController();
    this.controller = controller;
    const timer = setTimeout(() => controller.abort(new Error(`list timed out after ${LIST_TIMEOUT_MS} ms`)), LIST_TIMEOUT_MS);
    try {
      const list = await this.options.list(abortable(controller.signal));
      if (this.closed) return;
      const next = new Map<string, unknown>();
      for (const item of list.items) next.set(objectName(item), item);
      this.objects = next;
      this.resourceVersion = list.metadata?.resourceVersion ?? '';
      const first = !this.synced;
      this.synced = true;
      if (first || this.failures > 0) this.options.logger.info({ collection: this.options.description, objects: next.size }, first ? 'listed' : 'relisted after a failure');
      this.options.onChange(this.objects);
    } finally {
      clearTimeout(timer);
      if (this.controller === controller) this.controller = undefined;
    }
  }

  private watchOnce(): Promise<WatchOutcome> {
    return new Promise((resolve) => {
      let events = 0;
      let gone = false;
      let finished = false;
      const started = Date.now();
      const query = { ...this.options.query, resourceVersion: this.resourceVersion, allowWatchBookmarks: 'true' };
      const done = (err: unknown): void => {
        if (finished) return;
        finished = true;
        this.controller = undefined;
        resolve({ error: err ?? undefined, gone: gone || statusOf(err) === 410, events, durationMs: Date.now() - started });
      };
      const onEvent = (type: string, obj: unknown): void => {
        if (this.closed || finished) return;
        if (type === 'ERROR') {
          // The server reports expiry in-stream ({kind: Status, code: 410}) and then closes.
          gone = statusOf(obj) === 410;
          if (!gone) this.options.logger.warn({ collection: this.options.description, status: obj }, 'watch error event');
          this.controller?.abort();
          return;
        }
        const rv = resourceVersionOf(obj);
        if (rv) this.resourceVersion = rv;
        if (type === 'BOOKMARK') return;
        events++;
        // The first event after a failure proves the connection works again.
        this.failures = 0;
        if (type === 'DELETED') this.objects.delete(objectName(obj));
        else this.objects.set(objectName(obj), obj);
        this.options.onChange(this.objects);
      };
      this.watch.watch(this.options.path, query, onEvent, done).then((controller) => {
        if (finished) return;
        if (this.closed) controller.abort();
        else this.controller = controller;
      }, done);
    });
  }

  private nextDelay(): number {
    const { initialMs, maxMs } = this.backoff;
    const delay = Math.min(maxMs, initialMs * 2 ** Math.min(this.failures, 20));
    this.failures++;
    // ±20 % jitter so several replicas do not hammer a recovering API server in step.
    return Math.round(delay * (0.8 + Math.random() * 0.4));
  }

  private sleep(ms: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.wake = () => {
        this.wake = undefined;
        resolve();
      };
      this.sleepTimer = setTimeout(() => this.wake?.(), ms);
    });
  }
}

function describeError(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause;
    return cause instanceof Error ? `${err.message}: ${cause.message}` : err.message;
  }
  return String(err);
}

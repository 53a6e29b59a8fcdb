/**
 * The simulator as a library: `startSimulator(config)` listens and returns its URL and a
 * `close()` that drains like SIGTERM does (new inference requests → 503, in-flight ones finish),
 * then closes every socket and timer. Tests, the demo and benchmarks use it without spawning.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { getRequestListener } from '@hono/node-server';
import { listen, type ListeningServer } from '../http/server.js';
import { createLogger, type Logger } from '../log.js';
import { completeConfig, displayModelName, type SimConfig, type SimConfigInput } from './config.js';
import { Engine } from './engine.js';
import type { KvEventSink } from './kv-events.js';
import { createSimApp, type ServerState } from './server.js';

/** Makes the KV event sink once the serving port is known (the ZMQ topic contains it). */
export type KvEventSinkFactory = (listening: { port: number; config: SimConfig }) => KvEventSink | Promise<KvEventSink>;

export interface SimulatorOptions {
  /**
   * Receives BlockStored / BlockRemoved / AllBlocksCleared (default: dropped): a sink, or a factory
   * called after listening and before the first request is served. Its `close()` runs on close.
   */
  kvEventSink?: KvEventSink | KvEventSinkFactory;
  /** Default: a silent logger. */
  logger?: Logger;
  /** Environment for `VLLM_SERVER_DEV_MODE` (default process.env). */
  env?: Record<string, string | undefined>;
}

export interface CloseOptions {
  /** How long in-flight requests may take before their sleeps are cut short (default 30 s). */
  drainMs?: number;
}

export interface RunningSimulator {
  readonly url: string;
  readonly port: number;
  readonly config: SimConfig;
  readonly engine: Engine;
  /** Graceful: stop taking inference requests (503), let in-flight ones finish, close everything. */
  close(options?: CloseOptions): Promise<void>;
}

/** Resolves true when `promise` settled within `ms`. */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  const controller = new AbortController();
  const timeout = sleep(ms, false, { signal: controller.signal }).catch(() => false);
  const result = await Promise.race([promise.then(() => true), timeout]);
  controller.abort();
  return result;
}

/** Counts HTTP exchanges from request to response close, so closing waits for the last bytes. */
class InFlight {
  private count = 0;
  private waiters: Array<() => void> = [];

  track(res: ServerResponse): void {
    this.count++;
    res.once('close', () => {
      this.count--;
      if (this.count === 0) for (const resolve of this.waiters.splice(0)) resolve();
    });
  }

  whenIdle(): Promise<void> {
    return this.count === 0 ? Promise.resolve() : new Promise((resolve) => this.waiters.push(resolve));
  }
}

export async function startSimulator(input: SimConfigInput | SimConfig, options: SimulatorOptions = {}): Promise<RunningSimulator> {
  const config = completeConfig(input);
  const logger = options.logger ?? createLogger('sim', 'silent');
  const env = options.env ?? process.env;
  // --tokenizer: loaded before listening, so a bad directory fails the start with a ConfigError.
  const realTokenizer = config.tokenizer === '' ? undefined : await (await import('./real-tokenizer.js')).RealTokenizer.open(config.tokenizer, config.model);
  const engine = new Engine(config, {
    ...(typeof options.kvEventSink === 'object' ? { kvEventSink: options.kvEventSink } : {}),
    ...(realTokenizer ? { tokenize: (input) => realTokenizer.tokenize(input) } : {}),
  });
  const state: ServerState = { draining: false, sleeping: false, startedAt: Date.now(), port: config.port, devMode: env.VLLM_SERVER_DEV_MODE === '1' };
  const app = createSimApp({ engine, state, logger });
  const handle = getRequestListener(app.fetch);
  const inFlight = new InFlight();
  // Requests wait for the sink factory (it may need the port); listen() resolves before any arrive.
  let ready: Promise<void> = Promise.resolve();
  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    inFlight.track(res);
    ready.then(() => handle(req, res), () => res.destroy());
  };
  let server: ListeningServer;
  try {
    server = await listen(listener, { port: config.port, host: config.host });
  } catch (err) {
    await realTokenizer?.close();
    throw err;
  }
  state.port = server.port;
  if (typeof options.kvEventSink === 'function') {
    const factory = options.kvEventSink;
    ready = Promise.resolve(factory({ port: server.port, config })).then((sink) => {
      engine.kvEventSink = sink;
    });
    try {
      await ready;
    } catch (err) {
      await server.close(0);
      await realTokenizer?.close();
      throw err;
    }
  }
  logger.info({ url: server.url, port: server.port, listener: 'http' }, 'listening');
  logger.info({ model: config.model, servedModelNames: config.servedModelNames, displayModel: displayModelName(config), role: config.role, kvCache: config.enableKvcache, tokenizer: realTokenizer?.dir ?? 'simulated' }, 'simulator ready');

  let closing: Promise<void> | undefined;
  const close = async (closeOptions: CloseOptions = {}): Promise<void> => {
    state.draining = true;
    const drainMs = closeOptions.drainMs ?? 30_000;
    if (!(await within(engine.whenIdle(), drainMs))) {
      logger.warn(engine.counts, 'drain timed out; cutting in-flight requests short');
      engine.abort();
      await within(engine.whenIdle(), 1_000);
    }
    await within(inFlight.whenIdle(), 1_000);
    await server.close(1_000);
    await engine.kvEventSink.close?.();
    await realTokenizer?.close();
    logger.info('simulator closed');
  };
  return {
    url: server.url,
    port: server.port,
    config,
    engine,
    close(closeOptions) {
      closing ??= close(closeOptions);
      return closing;
    },
  };
}

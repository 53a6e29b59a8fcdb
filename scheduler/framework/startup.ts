/**
 * The EPP's wait for its plugins' start-up work (`StartsUp.whenReady`, e.g. the precise prefix
 * cache loading the tokenizers its config names in every worker): `done` turns true once every
 * such plugin is ready — the EPP's readiness includes it — and `promise` rejects, naming the
 * plugin, when one never will (the EPP then fails to start). Without such plugins it is done at once.
 */
import type { Logger } from '../../src/log.js';
import { startsUp, type Plugin } from './plugins.js';

export interface PluginStartup {
  readonly done: boolean;
  readonly promise: Promise<void>;
}

export function startPlugins(plugins: Iterable<Plugin>, logger: Logger): PluginStartup {
  const waiting = [...plugins].filter(startsUp);
  const state = { done: waiting.length === 0, promise: Promise.resolve() };
  if (waiting.length === 0) return state;
  const started = performance.now();
  state.promise = Promise.all(waiting.map((plugin) => plugin.whenReady().catch((err: unknown) => {
    throw new Error(`plugin "${plugin.name}" (${plugin.type}) cannot start: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }))).then(() => {
    state.done = true;
    logger.info({ plugins: waiting.map((plugin) => plugin.name), ms: Math.round(performance.now() - started) }, 'plugins started');
  });
  state.promise.catch(() => {}); // the owner (startEpp's caller) reports it
  return state;
}

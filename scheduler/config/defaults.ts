/**
 * Defaults the loader applies: picker, profile, handler, scorer weight, and the producers it injects when a
 * plugin reads an attribute nothing produces (see docs/configuration.md "Defaulting rules").
 */
import { PREFIX_CACHE_MATCH_INFO } from '../framework/cycle-state.js';
import { TOKENIZED_PROMPT } from '../plugins/producers/tokenized-prompt.js';
import { isDataProducer, consumesOf, type DataProducer, type Plugin } from '../framework/plugins.js';

export const DEFAULT_PARSER = 'openai-parser';
export const DEFAULT_SATURATION_DETECTOR = 'utilization-detector';
export const DEFAULT_METRICS_SOURCE = 'metrics-data-source';
export const DEFAULT_METRICS_EXTRACTOR = 'core-metrics-extractor';
export const DEFAULT_PICKER = 'max-score-picker';
export const DEFAULT_PROFILE_HANDLER = 'single-profile-handler';
export const DEFAULT_PROFILE = 'default';
export const DEFAULT_SCORER_WEIGHT = 1;

/** Attribute key → the producer type injected (with default parameters) when nothing produces it. */
export const DEFAULT_PRODUCERS: ReadonlyMap<string, string> = new Map([
  [PREFIX_CACHE_MATCH_INFO, 'approx-prefix-cache-producer'],
  ['InFlightLoad', 'inflight-load-producer'],
]);

/** Attributes read only when present (no warning, no injection when nothing produces them). */
// llmda: token-producer's output is optional for precise-prefix-cache-producer.
const OPTIONAL_ATTRIBUTES: ReadonlySet<string> = new Set([TOKENIZED_PROMPT]);

/** Attribute keys some plugin reads and no producer writes, with the plugins that read each. */
export function unproducedAttributes(plugins: readonly Plugin[]): Map<string, string[]> {
  const produced = new Set(plugins.filter(isDataProducer).flatMap((producer) => producer.produces));
  const missing = new Map<string, string[]>();
  for (const plugin of plugins) {
    for (const key of consumesOf(plugin)) {
      if (produced.has(key) || OPTIONAL_ATTRIBUTES.has(key)) continue;
      missing.set(key, [...(missing.get(key) ?? []), plugin.name]);
    }
  }
  return missing;
}

/** Producers ordered so that one reading another's output runs after it; otherwise config order. */
export function orderProducers(producers: readonly DataProducer[]): DataProducer[] {
  const ordered: DataProducer[] = [];
  const pending = [...producers];
  while (pending.length > 0) {
    const index = pending.findIndex((candidate) => consumesOf(candidate).every((key) =>
      !pending.some((other) => other !== candidate && other.produces.includes(key))));
    // A cycle cannot be ordered: keep config order for the rest.
    ordered.push(...(index < 0 ? pending.splice(0) : pending.splice(index, 1)));
  }
  return ordered;
}

/**
 * Plugin registry keyed by llm-d's type strings. A factory validates its parameters (throwing a
 * ConfigError naming the bad key) and returns the plugin; the config loader adds the YAML path.
 */
import { z } from 'zod';
import type { Logger } from '../../src/log.js';
import type { Endpoint } from './endpoint.js';
import { ConfigError } from './errors.js';
import type { Plugin } from './plugins.js';
import type { EppMetrics } from '../metrics.js';

/** What a factory may use while building a plugin. */
export interface PluginHandle {
  readonly logger: Logger;
  /** A plugin declared earlier in the same config, by name. */
  plugin(name: string): Plugin | undefined;
  /** The current endpoint set (for plugins that keep per-endpoint state and must purge it). */
  endpoints(): readonly Endpoint[];
  /** Membership changes of the endpoint set (endpoint-notification-source); absent in some tests. */
  readonly endpointChanges?: EndpointChanges;
  /** The EPP's Prometheus metrics, for plugins that record their own counters (absent in some tests). */
  readonly metrics?: EppMetrics;
  /** The EPP's scrape settings (`--refresh-metrics-interval`, `--metrics-timeout`, `--metrics-max-body-bytes`). */
  readonly scrape?: ScrapeSettings;
}

/** Subscribes to membership changes of the endpoint set; returns the unsubscribe function. */
export type EndpointChanges = (listener: (endpoints: readonly Endpoint[]) => void) => () => void;

export interface ScrapeSettings {
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly maxBodyBytes: number;
}

export type PluginFactory = (name: string, parameters: unknown, handle: PluginHandle) => Plugin;

interface Registration {
  factory: PluginFactory;
  /** Set for an older type name kept for pasted configs; logged as deprecated. */
  deprecatedAliasOf?: string;
}

export class PluginRegistry {
  private readonly registrations = new Map<string, Registration>();

  register(type: string, factory: PluginFactory): this {
    if (this.registrations.has(type)) throw new Error(`plugin type ${type} is registered twice`);
    this.registrations.set(type, { factory });
    return this;
  }

  /** Registers `alias` as an older name of `type`. */
  alias(alias: string, type: string): this {
    const target = this.registrations.get(type);
    if (!target) throw new Error(`cannot alias ${alias}: ${type} is not registered`);
    this.registrations.set(alias, { factory: target.factory, deprecatedAliasOf: type });
    return this;
  }

  has(type: string): boolean {
    return this.registrations.has(type);
  }

  types(): string[] {
    return [...this.registrations.keys()].sort();
  }

  /** Builds a plugin; unknown types and bad parameters throw ConfigError. */
  create(type: string, name: string, parameters: unknown, handle: PluginHandle): Plugin {
    const registration = this.registrations.get(type);
    if (!registration) throw new ConfigError('type', `unknown plugin type "${type}" (known: ${this.types().join(', ')})`);
    if (registration.deprecatedAliasOf) {
      handle.logger.warn({ type, replacement: registration.deprecatedAliasOf }, `plugin type "${type}" is deprecated; use "${registration.deprecatedAliasOf}"`);
    }
    try {
      const checksBefore = parameterChecks;
      const plugin = registration.factory(name, parameters, handle);
      // A factory that never looked at its parameters takes none: any key given is a mistake.
      const given = parameters !== null && typeof parameters === 'object' ? Object.keys(parameters) : [];
      if (parameterChecks === checksBefore && given.length > 0) {
        throw new ConfigError(['parameters', given[0]!], `unknown parameter of ${type} (it takes no parameters)`);
      }
      return plugin;
    } catch (err) {
      // parseParameters does not know the plugin type; name it here.
      if (err instanceof ConfigError && err.code === UNKNOWN_PARAMETER) throw err.withDetail(err.detail.replace(/^unknown parameter/, `unknown parameter of ${type}`));
      throw err;
    }
  }
}

const UNKNOWN_PARAMETER = 'unknown-parameter';

/** Counts parameter checks, so the registry can tell a factory that takes no parameters. */
let parameterChecks = 0;

/**
 * For factories that validate their parameters with their own parser instead of
 * `parseParameters`: records that the parameters were checked (strictly, by that parser).
 */
export function parametersChecked(): void {
  parameterChecks++;
}

/** Keys a plugin accepts and ignores (upstream's documented pass-through keys), per schema. */
const toleratedKeys = new WeakMap<z.ZodType, ReadonlySet<string>>();

/**
 * Declares keys a plugin's parameters may carry without being in its schema: keys upstream
 * documents as accepted and ignored, or keys meant for another plugin in pasted sample configs.
 * Every other key outside the schema fails start-up (a misspelling must not pass silently).
 */
export function tolerate<S extends z.ZodType>(schema: S, keys: readonly string[]): S {
  toleratedKeys.set(schema, new Set([...(toleratedKeys.get(schema) ?? []), ...keys]));
  return schema;
}

/** The object schema under wrappers (optional, default, pipe …), or undefined for non-object schemas. */
function objectShapeKeys(schema: z.ZodType): string[] | undefined {
  let current: z.ZodType = schema;
  for (let depth = 0; depth < 8; depth++) {
    if (current instanceof z.ZodObject) return Object.keys(current.shape);
    const def = (current as unknown as { def: { innerType?: z.ZodType; in?: z.ZodType } }).def;
    const next = def.innerType ?? def.in;
    if (!next) return undefined;
    current = next;
  }
  return undefined;
}

/**
 * Parses plugin parameters with a zod schema. Missing parameters parse as `{}` so defaults apply;
 * failures name the offending key (`parameters.threshold: …`). Keys that are neither in the
 * schema's shape nor declared with `tolerate` are errors: `parameters.nonCachedTokenz: unknown
 * parameter of prefix-based-pd-decider (known: nonCachedTokens)` (the registry adds the type).
 */
export function parseParameters<S extends z.ZodType>(schema: S, parameters: unknown): z.infer<S> {
  parameterChecks++;
  const known = objectShapeKeys(schema);
  if (known && parameters !== null && typeof parameters === 'object' && !Array.isArray(parameters)) {
    const tolerated = toleratedKeys.get(schema);
    const unknown = Object.keys(parameters).find((key) => !known.includes(key) && !tolerated?.has(key));
    if (unknown !== undefined) {
      const list = [...known, ...(tolerated ? [...tolerated].map((key) => `${key} (ignored)`) : [])];
      throw new ConfigError(['parameters', unknown], `unknown parameter (known: ${list.join(', ') || 'none'})`, { code: UNKNOWN_PARAMETER });
    }
  }
  const result = schema.safeParse(parameters ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  throw new ConfigError(['parameters', ...issue.path.filter((key): key is string | number => typeof key !== 'symbol')], issue.message);
}

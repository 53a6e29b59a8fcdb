/**
 * Plugin registry keyed by llm-d's type strings. A factory validates its parameters (throwing a
 * ConfigError naming the bad key) and returns the plugin; the config loader adds the YAML path.
 */
import type { z } from 'zod';
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
  /** The EPP's Prometheus metrics, for plugins that record their own counters (absent in some tests). */
  readonly metrics?: EppMetrics;
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
    return registration.factory(name, parameters, handle);
  }
}

/**
 * Parses plugin parameters with a zod schema. Missing parameters parse as `{}` so defaults apply;
 * failures name the offending key (`parameters.threshold: …`).
 */
export function parseParameters<S extends z.ZodType>(schema: S, parameters: unknown): z.infer<S> {
  const result = schema.safeParse(parameters ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const path = ['parameters', ...issue.path.map(String)].join('.');
  throw new ConfigError(path, issue.message);
}

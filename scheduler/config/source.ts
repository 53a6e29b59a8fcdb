/**
 * The YAML side of config loading: parse with line positions, validate against the schema, and
 * turn any problem into a ConfigError that names the YAML path and, when known, the line.
 */
import { isNode, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { ConfigError, formatPath, type ConfigPath } from '../framework/errors.js';
import { EndpointPickerConfigSchema, type EndpointPickerConfig } from './schema.js';

export type { ConfigPath };

/** Finds the line of a YAML path; the deepest existing ancestor stands in for a missing key. */
export class ConfigSource {
  /** Errors this source already located; they pass through wrappers unchanged. */
  private readonly located = new WeakSet<Error>();

  constructor(private readonly doc?: Document, private readonly lines?: LineCounter, readonly file?: string) {}

  line(path: ConfigPath): number | undefined {
    if (!this.doc || !this.lines) return undefined;
    for (let depth = path.length; depth >= 0; depth--) {
      const node = depth === 0 ? this.doc.contents : this.doc.getIn(path.slice(0, depth), true);
      if (isNode(node) && node.range) return this.lines.linePos(node.range[0]).line;
    }
    return undefined;
  }

  /** True when the YAML has a value at `path`. */
  has(path: ConfigPath): boolean {
    return this.doc?.hasIn(path) ?? false;
  }

  /** A ConfigError at `path` (`plugins[3].parameters.threshold: … (line 12)`). */
  error(path: ConfigPath, message: string): ConfigError {
    const err = new ConfigError(path, message, { file: this.file, line: this.line(path) });
    this.located.add(err);
    return err;
  }

  /** An error thrown by a piece of the config (a plugin factory), placed at `prefix` in this document. */
  place(prefix: ConfigPath, err: ConfigError): ConfigError {
    const path = [...prefix, ...err.path];
    const located = err.within(prefix, { file: this.file, line: this.line(path) });
    this.located.add(located);
    return located;
  }

  isLocated(err: unknown): err is ConfigError {
    return err instanceof ConfigError && this.located.has(err);
  }
}

export interface ParsedSource {
  /** undefined when the text holds no document (empty, or only comments). */
  readonly config: EndpointPickerConfig | undefined;
  readonly source: ConfigSource;
}

/** Parses and validates the YAML (or JSON) text of an EndpointPickerConfig; `file` names it in errors. */
export function parseConfigText(text: string, file?: string): ParsedSource {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: true });
  const source = new ConfigSource(doc, lines, file);
  if (doc.errors.length > 0) {
    const first = doc.errors[0]!;
    const line = first.linePos?.[0]?.line;
    throw new ConfigError([], `invalid YAML: ${first.message.split('\n')[0]}`, { file, line: first.message.includes('line') ? undefined : line });
  }
  if (doc.contents === null) return { config: undefined, source };
  const value: unknown = doc.toJS({ maxAliasCount: 100 });
  if (value === null || value === undefined) return { config: undefined, source };
  if (typeof value !== 'object' || Array.isArray(value)) throw source.error([], 'the config must be a YAML mapping with apiVersion, kind, plugins, schedulingProfiles');
  const result = EndpointPickerConfigSchema.safeParse(value);
  if (!result.success) throw schemaError(source, result.error.issues[0]!);
  return { config: result.data, source };
}

function schemaError(source: ConfigSource, issue: z.core.$ZodIssue): ConfigError {
  const path = issue.path.filter((key): key is string | number => typeof key !== 'symbol');
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0]!;
    const where = path.length === 0 ? 'the top level' : formatPath(path);
    return source.error([...path, key], `unknown field "${key}" in ${where}`);
  }
  const missing = issue.code === 'invalid_type' && !source.has(path);
  return source.error(path, missing ? 'required field is missing' : issue.message);
}

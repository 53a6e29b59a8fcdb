/**
 * The configuration error: what is wrong (`detail`), where in the document (`path`), and when
 * known which file and line. The message is formatted here and nowhere else:
 * `[context: ]file: plugins[2].parameters.nonCachedTokenz: unknown parameter … (line 14)`.
 * Every process uses it: the EPP's YAML loader, the simulator's flags/YAML and admin API, the
 * sidecar's flags/YAML (one class, one format; `code` tells kinds apart, e.g. `admin` → HTTP 400).
 *
 * A path whose first key is a flag (`--port`) reads as a sentence: `--port must be …`.
 *
 * Code that validates a piece of a config throws with the path relative to that piece; whoever
 * knows the enclosing position re-throws with `within(prefix)` / `located(…)` — no message parsing.
 */
export type ConfigPath = readonly (string | number)[];

export interface ConfigErrorLocation {
  file?: string;
  line?: number;
  /** What was being done, written first (`failed to unmarshal sidecar configuration`). */
  context?: string;
}

/** `plugins[2].parameters.threshold`: numbers as `[i]`, keys joined with dots. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out;
}

/** Accepts the dotted form older call sites use (`parameters.tiers.0.name`): digits become indexes. */
function toPath(path: string | ConfigPath): (string | number)[] {
  if (typeof path !== 'string') return [...path];
  if (path === '') return [];
  return path.split('.').map((key) => (/^\d+$/.test(key) ? Number(key) : key));
}

export class ConfigError extends Error {
  readonly path: (string | number)[];
  readonly detail: string;
  readonly file?: string;
  readonly line?: number;
  readonly context?: string;
  /** A machine-readable kind for errors a caller refines (e.g. `unknown-parameter`). */
  readonly code?: string;

  constructor(path: string | ConfigPath, detail: string, where: ConfigErrorLocation & { code?: string } = {}) {
    const parts = toPath(path);
    super(formatConfigError(parts, detail, where));
    this.name = 'ConfigError';
    this.path = parts;
    this.detail = detail;
    if (where.file !== undefined) this.file = where.file;
    if (where.line !== undefined) this.line = where.line;
    if (where.context !== undefined) this.context = where.context;
    if (where.code !== undefined) this.code = where.code;
  }

  /** The same error seen from the enclosing document: `prefix` goes in front of the path. */
  within(prefix: ConfigPath, where: ConfigErrorLocation = {}): ConfigError {
    return new ConfigError([...prefix, ...this.path], this.detail, { ...this.where(), ...where });
  }

  /** The same error with another detail (keeps path, file, line). */
  withDetail(detail: string): ConfigError {
    return new ConfigError(this.path, detail, this.where());
  }

  /** The same error with `context` in front (`failed to read sidecar configuration: …`). */
  inContext(context: string): ConfigError {
    return new ConfigError(this.path, this.detail, { ...this.where(), context });
  }

  private where(): ConfigErrorLocation & { code?: string } {
    return { file: this.file, line: this.line, context: this.context, code: this.code };
  }
}

/** Any error as a ConfigError (at the root, with the original message as detail). */
export function asConfigError(err: unknown, where: ConfigErrorLocation & { code?: string } = {}): ConfigError {
  if (err instanceof ConfigError) return where.context === undefined ? err : err.inContext(where.context);
  return new ConfigError([], err instanceof Error ? err.message : String(err), where);
}

export function formatConfigError(path: ConfigPath, detail: string, where: ConfigErrorLocation = {}): string {
  const at = formatPath(path);
  const head = [where.context, where.file, at].filter((part) => part !== undefined && part !== '').join(': ');
  // A command-line flag reads as a sentence: `--port must be a port number …`.
  const separator = at.startsWith('--') && head.endsWith(at) ? ' ' : ': ';
  return `${head ? `${head}${separator}` : ''}${detail}${where.line === undefined ? '' : ` (line ${where.line})`}`;
}

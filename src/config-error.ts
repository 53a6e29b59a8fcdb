/**
 * The configuration error: what is wrong (`detail`), where in the document (`path`), and when
 * known which file and line. The message is formatted here and nowhere else:
 * `file: plugins[2].parameters.nonCachedTokenz: unknown parameter … (line 14)`.
 *
 * Code that validates a piece of a config throws with the path relative to that piece; whoever
 * knows the enclosing position re-throws with `within(prefix)` / `located(…)` — no message parsing.
 */
export type ConfigPath = readonly (string | number)[];

export interface ConfigErrorLocation {
  file?: string;
  line?: number;
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
    if (where.code !== undefined) this.code = where.code;
  }

  /** The same error seen from the enclosing document: `prefix` goes in front of the path. */
  within(prefix: ConfigPath, where: ConfigErrorLocation = {}): ConfigError {
    return new ConfigError([...prefix, ...this.path], this.detail, { file: this.file, line: this.line, code: this.code, ...where });
  }

  /** The same error with another detail (keeps path, file, line). */
  withDetail(detail: string): ConfigError {
    return new ConfigError(this.path, detail, { file: this.file, line: this.line, code: this.code });
  }
}

export function formatConfigError(path: ConfigPath, detail: string, where: ConfigErrorLocation = {}): string {
  const at = formatPath(path);
  const head = [where.file, at].filter((part) => part !== undefined && part !== '').join(': ');
  return `${head ? `${head}: ` : ''}${detail}${where.line === undefined ? '' : ` (line ${where.line})`}`;
}

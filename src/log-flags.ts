/**
 * Upstream's logging flags, accepted so Kubernetes manifests written for llm-d's Go binaries work
 * unchanged, and mapped onto our logger (docs/configuration.md, "Logging flags"):
 *
 * - `-v N` / `--v=N` (klog verbosity): N ≤ 3 → info, 4 → debug, ≥ 5 → trace.
 * - `--zap-log-level=L`: debug, info, warn, error as such; dpanic/panic/fatal → fatal; an integer
 *   N > 0 is a verbosity as for `-v`.
 * - `--zap-encoder=json|console`: our JSON lines, or one readable line per record.
 * - `--zap-devel`: console format and debug level unless those are set explicitly.
 * - `--zap-time-encoding=epoch|millis|nano|iso8601|rfc3339|rfc3339nano`: how `time` is written.
 * - `--zap-stacktrace-level`: accepted, no effect (reported at start-up).
 *
 * Precedence: `--zap-log-level`, then `-v`, then `--zap-devel`, then LOG_LEVEL / LOG_FORMAT, then
 * info / json.
 */
import { InvalidArgumentError } from 'commander';
import type { OptionSpec } from './cli/options.js';
import { TIME_ENCODINGS, type LogFormat, type LogOptions, type TimeEncoding } from './log.js';

export function verbosityLevel(v: number): 'info' | 'debug' | 'trace' {
  if (v >= 5) return 'trace';
  if (v === 4) return 'debug';
  return 'info';
}

export function zapLevelArg(value: string): string {
  const lowered = value.toLowerCase();
  if (/^\d+$/.test(lowered) && Number(lowered) > 0) return verbosityLevel(Number(lowered));
  if (['debug', 'info', 'warn', 'error'].includes(lowered)) return lowered;
  if (['dpanic', 'panic', 'fatal'].includes(lowered)) return 'fatal';
  throw new InvalidArgumentError(`"${value}" is not a zap level (debug, info, warn, error, dpanic, panic, fatal, or an integer > 0)`);
}

export function timeEncodingArg(value: string): TimeEncoding {
  const lowered = value.toLowerCase();
  if ((TIME_ENCODINGS as readonly string[]).includes(lowered)) return lowered as TimeEncoding;
  throw new InvalidArgumentError(`invalid time-encoding value "${value}" (${TIME_ENCODINGS.join(', ')})`);
}

/** The upstream logging flags as option-table rows (the last: accepted, no effect). */
export const LOG_FLAGS: readonly OptionSpec[] = [
  { name: 'v', short: 'v', kind: 'int', placeholder: '<level>', help: 'klog verbosity: ≤3 info, 4 debug, ≥5 trace (upstream flag)' },
  { name: 'zap-log-level', kind: 'string', placeholder: '<level>', parse: zapLevelArg, help: 'debug|info|warn|error|… or an integer verbosity (upstream flag)' },
  { name: 'zap-encoder', kind: 'string', placeholder: '<encoder>', choices: ['json', 'console'], help: 'log format: json or console (upstream flag)' },
  { name: 'zap-devel', kind: 'bool', help: 'console format, debug level (upstream flag)' },
  { name: 'zap-time-encoding', kind: 'string', placeholder: '<encoding>', parse: timeEncodingArg, choicesText: TIME_ENCODINGS, help: 'how log records write their time (upstream flag)', defaultText: 'iso8601' },
  { name: 'zap-stacktrace-level', kind: 'string', placeholder: '<level>', noEffect: true, help: '' },
];

/** The log options the flags ask for (undefined fields: use the environment's). */
export function logOptionsFrom(opts: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): LogOptions & { level: string; format: LogFormat } {
  const devel = opts.zapDevel === true;
  const level = (opts.zapLogLevel as string | undefined)
    ?? (typeof opts.v === 'number' ? verbosityLevel(opts.v) : undefined)
    ?? (devel ? 'debug' : undefined)
    ?? env.LOG_LEVEL ?? 'info';
  const format: LogFormat = (opts.zapEncoder as LogFormat | undefined) ?? (devel ? 'console' : undefined) ?? (env.LOG_FORMAT === 'console' ? 'console' : 'json');
  const timeEncoding = opts.zapTimeEncoding as TimeEncoding | undefined;
  return timeEncoding ? { level, format, timeEncoding } : { level, format };
}

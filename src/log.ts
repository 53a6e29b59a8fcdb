/**
 * Structured logs (pino). LOG_LEVEL sets the level (trace, debug, info, warn, error, fatal, silent);
 * LOG_FORMAT=console prints one readable line per record instead of JSON (for a terminal; JSON is
 * the default and what tooling reads). Children carry the component and the request id
 * (`requestId`).
 */
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';

export type { Logger };
export type LogFormat = 'json' | 'console';

/** How `time` is written (zap's names, `--zap-time-encoding`); default ISO 8601 with milliseconds. */
export const TIME_ENCODINGS = ['epoch', 'millis', 'nano', 'iso8601', 'rfc3339', 'rfc3339nano'] as const;
export type TimeEncoding = (typeof TIME_ENCODINGS)[number];

export interface LogOptions {
  level?: string;
  format?: LogFormat;
  timeEncoding?: TimeEncoding;
}

/** pino's `timestamp` for an encoding: epoch seconds, epoch ms, epoch ns, or an RFC 3339 string. */
function timestampFor(encoding: TimeEncoding | undefined): () => string {
  switch (encoding) {
    case 'epoch': return () => `,"time":${Date.now() / 1000}`;
    case 'millis': return () => `,"time":${Date.now()}`;
    case 'nano': return () => `,"time":${Date.now()}000000`;
    case 'rfc3339': return () => `,"time":"${new Date().toISOString().replace(/\.\d{3}Z$/, 'Z')}"`;
    default: return pino.stdTimeFunctions.isoTime;
  }
}

export function createLogger(component: string, options: string | LogOptions = {}): Logger {
  const { level = process.env.LOG_LEVEL ?? 'info', format = process.env.LOG_FORMAT === 'console' ? 'console' : 'json', timeEncoding } = typeof options === 'string' ? { level: options } : options;
  const settings = { level, base: { component }, timestamp: timestampFor(timeEncoding) };
  return format === 'console' ? pino(settings, consoleStream(process.stdout)) : pino(settings);
}

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/** `2026-01-01T00:00:00.000Z INFO  epp listening url=http://… port=8080` */
export function consoleLine(json: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const { time, level, component, msg, pid: _pid, hostname: _hostname, ...rest } = record;
  const fields = Object.entries(rest).map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
  return [time, (LEVEL_NAMES[Number(level)] ?? String(level)).padEnd(5), component, msg, ...fields].filter((part) => part !== undefined && part !== '').join(' ');
}

function consoleStream(out: NodeJS.WritableStream): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      const text = chunk.toString('utf8');
      out.write(text.split('\n').filter(Boolean).map(consoleLine).join('\n') + '\n');
      done();
    },
  });
}

/**
 * Go `time.Duration` text for durations the simulator shows back (`GET /admin/config`), and the
 * reading of durations from YAML/JSON, where Go accepts a duration string or integer nanoseconds.
 */
import { parseDuration } from '../duration.js';

function withFraction(value: number, unit: number, digits: number): string {
  const whole = Math.floor(value / unit);
  const fraction = value % unit;
  if (fraction === 0) return String(whole);
  return `${whole}.${String(fraction).padStart(digits, '0').replace(/0+$/, '')}`;
}

/** Milliseconds → Go's `Duration.String()` (`0s`, `250ms`, `1.5s`, `1m30s`, `500µs`). */
export function formatGoDuration(ms: number): string {
  let ns = Math.round(ms * 1e6);
  if (ns === 0) return '0s';
  const sign = ns < 0 ? '-' : '';
  ns = Math.abs(ns);
  if (ns < 1e3) return `${sign}${ns}ns`;
  if (ns < 1e6) return `${sign}${withFraction(ns, 1e3, 3)}µs`;
  if (ns < 1e9) return `${sign}${withFraction(ns, 1e6, 6)}ms`;
  const hours = Math.floor(ns / 3.6e12);
  let rest = ns - hours * 3.6e12;
  const minutes = Math.floor(rest / 6e10);
  rest -= minutes * 6e10;
  let text = sign;
  if (hours > 0) text += `${hours}h`;
  if (hours > 0 || minutes > 0) text += `${minutes}m`;
  return `${text}${withFraction(rest, 1e9, 9)}s`;
}

/** A duration from YAML/JSON: a Go duration string, or an integer number of nanoseconds (Go's encoding). */
export function durationValue(value: unknown, field: string): number {
  if (typeof value === 'string') {
    try {
      return parseDuration(value);
    } catch (err) {
      throw new Error(`${field}: ${(err as Error).message}`);
    }
  }
  if (typeof value === 'number' && Number.isFinite(value)) return value / 1e6;
  throw new Error(`${field}: expected a duration such as "250ms", got ${JSON.stringify(value)}`);
}

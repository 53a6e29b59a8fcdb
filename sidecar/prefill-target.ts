/**
 * The disaggregation headers the EPP sets: `x-prefiller-host-port` (one `host:port`, possibly a
 * comma list) and `x-encoder-hosts-ports`. Neither is ever forwarded upstream; these helpers only
 * read them. Node joins repeated header lines with ", ", so splitting on commas covers both the
 * one-line list and several lines.
 */

import { parseHostPort, type HostPort } from '../src/wire/host-port.js';

/** A random source in [0, 1), injectable so sampling is testable. */
export type RandomSource = () => number;

export interface PrefillChoice {
  /** The chosen `host:port` (trimmed); '' means no P/D for this request. */
  readonly target: string;
  /** How many candidates the header listed (span attribute `prefill_candidates`). */
  readonly candidates: number;
}

const NONE: PrefillChoice = { target: '', candidates: 0 };

function splitList(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  const joined = Array.isArray(value) ? value.join(',') : value;
  return joined.split(',');
}

/**
 * Upstream's rule: take the first entry, or a random one when sampling is on, then trim it. An
 * empty pick (empty header, `,` or `""`-style values) means plain decode.
 */
export function choosePrefillTarget(value: string | string[] | undefined, sampling: boolean, random: RandomSource): PrefillChoice {
  if (value === undefined) return NONE;
  const entries = splitList(value);
  const index = sampling && entries.length > 1 ? Math.min(entries.length - 1, Math.floor(random() * entries.length)) : 0;
  const target = entries[index]!.trim();
  return target === '' ? { target: '', candidates: entries.length } : { target, candidates: entries.length };
}

/** Every listed encoder, trimmed; empty entries dropped. */
export function encoderTargets(value: string | string[] | undefined): string[] {
  return splitList(value).map((entry) => entry.trim()).filter(Boolean);
}

/**
 * Every listed encoder parsed strictly, in header order; `invalid` names the first entry that is
 * not a `host:port` (the request is then refused with 400, nothing is dialled).
 */
export function parseEncoderTargets(value: string | string[] | undefined): { kind: 'ok'; targets: HostPort[] } | { kind: 'invalid'; raw: string } {
  const targets: HostPort[] = [];
  for (const raw of encoderTargets(value)) {
    const target = parseHostPort(raw);
    if (target === undefined) return { kind: 'invalid', raw };
    targets.push(target);
  }
  return { kind: 'ok', targets };
}

/** Go-style durations (`250ms`, `1.5s`, `1m30s`, `0`) → milliseconds; flags share upstream's syntax. */

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** The longest delay a Node timer takes (2^31 − 1 ms, ~24.8 days); longer ones fire at once. */
export const MAX_TIMER_MS = 2_147_483_647;

export function parseDuration(text: string): number {
  const input = text.trim();
  if (input === '0') return 0;
  const part = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/y;
  let total = 0;
  let index = 0;
  let sign = 1;
  if (input.startsWith('-') || input.startsWith('+')) {
    sign = input.startsWith('-') ? -1 : 1;
    index = 1;
  }
  if (index >= input.length) throw new Error(`invalid duration "${text}"`);
  while (index < input.length) {
    part.lastIndex = index;
    const match = part.exec(input);
    if (!match) throw new Error(`invalid duration "${text}" (use Go syntax such as 250ms, 1.5s, 1m30s)`);
    total += Number(match[1]) * UNIT_MS[match[2]!]!;
    index = part.lastIndex;
  }
  return sign * total;
}

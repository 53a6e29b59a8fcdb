/**
 * A small parser for the Prometheus text exposition format — only what the scraper needs:
 * sample name, labels and value, per line. Comments, HELP/TYPE lines and timestamps are skipped.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parseLabels(text: string, start: number): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let i = start;
  for (;;) {
    while (text[i] === ' ' || text[i] === ',') i++;
    if (text[i] === '}') return { labels, end: i + 1 };
    const eq = text.indexOf('=', i);
    if (eq < 0) throw new Error('label without value');
    const key = text.slice(i, eq).trim();
    i = eq + 1;
    if (text[i] !== '"') throw new Error('label value not quoted');
    let value = '';
    for (i++; i < text.length && text[i] !== '"'; i++) {
      if (text[i] === '\\') {
        i++;
        value += text[i] === 'n' ? '\n' : text[i];
      } else value += text[i];
    }
    labels[key] = value;
    i++;
  }
}

function parseValue(text: string): number {
  switch (text) {
    case '+Inf': return Number.POSITIVE_INFINITY;
    case '-Inf': return Number.NEGATIVE_INFINITY;
    case 'NaN': return Number.NaN;
    default: return Number(text);
  }
}

/** Samples whose name is in `wanted` (all when omitted); malformed lines are skipped. */
export function parsePrometheusText(text: string, wanted?: ReadonlySet<string>): Sample[] {
  const samples: Sample[] = [];
  for (const rawLine of text.split('\n')) {
    const line = rawLine.trim();
    if (!line || line.startsWith('#')) continue;
    const brace = line.indexOf('{');
    const space = line.indexOf(' ');
    const nameEnd = brace >= 0 && (space < 0 || brace < space) ? brace : space;
    if (nameEnd <= 0) continue;
    const name = line.slice(0, nameEnd);
    if (wanted && !wanted.has(name)) continue;
    try {
      let labels: Record<string, string> = {};
      let rest = nameEnd;
      if (line[nameEnd] === '{') {
        const parsed = parseLabels(line, nameEnd + 1);
        labels = parsed.labels;
        rest = parsed.end;
      }
      const value = parseValue(line.slice(rest).trim().split(/\s+/)[0] ?? '');
      if (!Number.isNaN(value) || line.slice(rest).includes('NaN')) samples.push({ name, labels, value });
    } catch {
      // A malformed line never poisons the rest of the scrape.
    }
  }
  return samples;
}

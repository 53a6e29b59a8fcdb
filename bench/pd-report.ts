/**
 * The P/D benchmark's output (bench/pd.ts): one Markdown table per workload and a hand-written
 * SVG line plot of goodput vs offered rate, one line per row.
 */
export interface Cell {
  row: string;
  rate: number;
  sent: number;
  failed: number;
  goodput: number;
  ttftP50: number;
  ttftP90: number;
  tpotP50: number;
  tpotP90: number;
  disaggShare: number;
  reasons: string;
}


export function table(cells: readonly Cell[]): string {
  const lines = [
    '| row | rate | sent | failed | goodput | TTFT p50 | TTFT p90 | TPOT p50 | TPOT p90 | P/D share | reasons |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const c of cells) {
    lines.push(`| ${c.row} | ${c.rate} | ${c.sent} | ${c.failed} | ${c.goodput.toFixed(2)} | ${c.ttftP50.toFixed(0)} | ${c.ttftP90.toFixed(0)} | ` +
      `${c.tpotP50.toFixed(1)} | ${c.tpotP90.toFixed(1)} | ${(c.disaggShare * 100).toFixed(0)} % | ${c.reasons} |`);
  }
  return lines.join('\n');
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd'];

const escape = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;');

/** Goodput (y) vs offered rate (x), one polyline per row, with axes, ticks and a legend. */
export function svgPlot(title: string, cells: readonly Cell[]): string {
  const width = 560;
  const height = 340;
  const left = 60;
  const right = 150;
  const top = 40;
  const bottom = 50;
  const rows = [...new Set(cells.map((c) => c.row))];
  const maxX = Math.max(...cells.map((c) => c.rate), 1);
  const maxY = Math.max(...cells.map((c) => c.goodput), ...cells.map((c) => c.rate), 1);
  const x = (v: number): number => left + (v / maxX) * (width - left - right);
  const y = (v: number): number => height - bottom - (v / maxY) * (height - top - bottom);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2 - right / 2}" y="20" text-anchor="middle" font-size="14">${escape(title)}</text>`,
    `<line x1="${left}" y1="${y(0)}" x2="${x(maxX)}" y2="${y(0)}" stroke="black"/>`,
    `<line x1="${left}" y1="${y(0)}" x2="${left}" y2="${y(maxY)}" stroke="black"/>`,
    `<text x="${(left + x(maxX)) / 2}" y="${height - 12}" text-anchor="middle">offered rate (req/s)</text>`,
    `<text x="16" y="${(top + y(0)) / 2}" text-anchor="middle" transform="rotate(-90 16 ${(top + y(0)) / 2})">goodput (req/s)</text>`,
    // The ideal: goodput = offered rate.
    `<line x1="${x(0)}" y1="${y(0)}" x2="${x(Math.min(maxX, maxY))}" y2="${y(Math.min(maxX, maxY))}" stroke="#bbb" stroke-dasharray="4 4"/>`,
  ];
  for (let i = 0; i <= 5; i++) {
    const vx = (maxX * i) / 5;
    const vy = (maxY * i) / 5;
    out.push(`<text x="${x(vx)}" y="${y(0) + 16}" text-anchor="middle">${+vx.toFixed(1)}</text>`);
    out.push(`<text x="${left - 6}" y="${y(vy) + 4}" text-anchor="end">${+vy.toFixed(1)}</text>`);
    out.push(`<line x1="${left}" y1="${y(vy)}" x2="${x(maxX)}" y2="${y(vy)}" stroke="#eee"/>`);
  }
  rows.forEach((row, i) => {
    const color = COLORS[i % COLORS.length]!;
    const points = cells.filter((c) => c.row === row).sort((a, b) => a.rate - b.rate);
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${points.map((c) => `${x(c.rate).toFixed(1)},${y(c.goodput).toFixed(1)}`).join(' ')}"/>`);
    for (const c of points) out.push(`<circle cx="${x(c.rate).toFixed(1)}" cy="${y(c.goodput).toFixed(1)}" r="3" fill="${color}"/>`);
    const ly = top + 10 + i * 20;
    out.push(`<line x1="${width - right + 15}" y1="${ly}" x2="${width - right + 40}" y2="${ly}" stroke="${color}" stroke-width="2"/>`);
    out.push(`<text x="${width - right + 46}" y="${ly + 4}">${escape(row)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/**
 * The piecewise JSON parser (src/openai/piecewise-json.ts) against `JSON.parse` of the joined
 * text, on the bodies it is for (long chat documents) and on hostile ones: per body, the best of a
 * few runs of each, the ratio, minor page faults per parse, and — when the parser handed the body
 * to JSON.parse whole — why. Bodies arrive in 64 KiB chunks, as Envoy streams them.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/json-pieces.js [--mb N] (hostile bodies' size, default 16)
 */
import { parseJsonPieces, type WholeReason } from '../src/openai/piecewise-json.js';
import { positiveIntFlag } from './args.js';

const MB = (positiveIntFlag(process.argv, 'mb') ?? 16) * 1024 * 1024;

const chat = (bytes: number): string => {
  const line = 'The quick brown fox — “quoted” \\ and a newline,\n😀 then code: if (a["b"]) { return "c"; }\n';
  return JSON.stringify({ model: 'm', messages: [{ role: 'system', content: 'Answer briefly.' }, { role: 'user', content: line.repeat(Math.ceil(bytes / line.length)) }], max_tokens: 1 });
};
const long = (n: number): string => 'x'.repeat(n);

const BODIES: Array<[string, () => string | Buffer]> = [
  ['chat document, 200 KB', () => chat(200_000)],
  ['chat document, 2 MB', () => chat(2_000_000)],
  ['one plain string', () => `{"a":"${long(MB - 8)}"}`],
  ['escaped quotes only', () => `{"a":"${'\\"'.repeat(MB / 2 - 4)}"}`],
  ['backslash pairs only', () => `{"a":"${'\\\\'.repeat(MB / 2 - 4)}"}`],
  ['newline escapes only', () => `{"a":"${'\\n'.repeat(MB / 2 - 4)}"}`],
  ['stray UTF-8 continuation bytes', () => Buffer.concat([Buffer.from('{"a":"'), Buffer.alloc(MB - 8, 0x80), Buffer.from('"}')])],
  ['empty strings only', () => `[${'"",'.repeat(MB / 3 - 1)}""]`],
  ['a long string, then empty arrays', () => `["${long(20_000)}"${',[]'.repeat(MB / 3 - 7000)}]`],
  ['16 KiB strings', () => `[${Array.from({ length: MB / 16_400 }, () => `"${long(16_384)}"`).join(',')}]`],
  ['16 KiB strings, invalid at the end', () => `[${Array.from({ length: MB / 16_400 }, () => `"${long(16_384)}"`).join(',')},]`],
];

function best(run: () => unknown, times: number): { ms: number; faults: number } {
  let ms = Infinity;
  let faults = Infinity;
  for (let i = 0; i < times; i++) {
    const before = process.resourceUsage().minorPageFault;
    const start = performance.now();
    try {
      run();
    } catch {
      // invalid bodies are part of the table
    }
    ms = Math.min(ms, performance.now() - start);
    faults = Math.min(faults, process.resourceUsage().minorPageFault - before);
  }
  return { ms, faults };
}

console.log(`# json-pieces — Node ${process.version}; hostile bodies ${MB / 1024 / 1024} MB, 64 KiB chunks; best of several runs; ms\n`);
console.log('| body | bytes | JSON.parse | faults | piecewise | faults | ratio | handed to JSON.parse |');
console.log('|---|---|---|---|---|---|---|---|');
for (const [name, make] of BODIES) {
  const made = make();
  const bytes = typeof made === 'string' ? Buffer.from(made) : made;
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += 65_536) chunks.push(Buffer.from(bytes.subarray(at, at + 65_536)));
  const times = bytes.length > 4_000_000 ? 3 : 30;
  const plain = best(() => JSON.parse(Buffer.concat(chunks).toString('utf8')), times);
  let reason: WholeReason | '—' = '—';
  const pieces = best(() => parseJsonPieces(chunks, { onWhole: (why) => (reason = why) }), times);
  console.log(`| ${name} | ${bytes.length} | ${plain.ms.toFixed(2)} | ${plain.faults} | ${pieces.ms.toFixed(2)} | ${pieces.faults} | ${(pieces.ms / plain.ms).toFixed(2)}× | ${reason} |`);
}

/**
 * Dead exports: names exported from `src/ scheduler/ sidecar/ bin/ bench/` that nothing uses.
 *
 * For every `export function|const|let|class|interface|type|enum NAME` it counts NAME as a whole
 * word in every tracked `.ts` file (tests included). "Dead": no other file names it and its own
 * file only declares it. "Local": no other file names it, but its own file uses it (the `export`
 * is unneeded, often an options interface or a default). A quick textual check, not a compiler
 * pass: a name that happens to be a word elsewhere counts as used.
 *
 *   node bench/dead-exports.ts [--list]          (Node runs the TypeScript as is; any checkout)
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const CODE = new Set(['src', 'scheduler', 'sidecar', 'bin', 'bench']);
const DECLARATION = /^export\s+(?:declare\s+)?(?:default\s+)?(?:async\s+)?(?:abstract\s+)?(?:function\*?|const|let|class|interface|type|enum)\s+(\w+)/gm;

const files = execFileSync('git', ['ls-files', '*.ts'], { encoding: 'utf8' }).split('\n').filter((file) => file.endsWith('.ts'));
const text = new Map(files.map((file) => [file, readFileSync(file, 'utf8')]));
const words = new Map(files.map((file) => [file, new Set(text.get(file)!.match(/\w+/g) ?? [])]));

const dead: string[] = [];
const local: string[] = [];
for (const file of files) {
  if (!CODE.has(file.split('/')[0]!)) continue;
  for (const [, name] of text.get(file)!.matchAll(DECLARATION)) {
    if (files.some((other) => other !== file && words.get(other)!.has(name!))) continue;
    const uses = text.get(file)!.match(new RegExp(`\\b${name}\\b`, 'g'))!.length;
    (uses === 1 ? dead : local).push(`${file}: ${name}`);
  }
}
console.log(`dead exports (used nowhere): ${dead.length}`);
console.log(`exports used only in their own file: ${local.length}`);
if (process.argv.includes('--list')) console.log(['', 'dead:', ...dead, '', 'local:', ...local].join('\n'));

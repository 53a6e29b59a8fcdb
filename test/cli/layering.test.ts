/**
 * The layering rules, checked over the sources: `src/` (the shared kernel) never imports
 * `scheduler/` or `sidecar/`, those two never import each other, nothing imports `bin/` (the entry
 * point sits on top), no source file over 300 lines, and no import cycles among our modules (type-only imports included: a cycle
 * of types still ties two modules together).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { findCycles, importsOf, listSources, type ImportEdge } from './import-graph.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CODE_DIRS = ['bin', 'src', 'scheduler', 'sidecar', 'bench'];
const edges = listSources(ROOT, CODE_DIRS).flatMap((file) => importsOf(ROOT, file));
const top = (path: string): string => path.split('/')[0]!;
const show = (list: ImportEdge[]): string[] => list.map((e) => `${e.from}:${e.line} → ${e.to}`);

describe('import graph reader', () => {
  it('sees static, re-export, side-effect, type-only and dynamic imports, and ignores comments and packages', () => {
    const text = [
      "import { a } from './a.js';",
      "import type { B } from '../b.js';",
      "export { c } from './c/index.js';",
      "import './side.js';",
      "const d = await import('./d.js');",
      "// import { e } from './e.js';",
      "/* import { f } from './f.js'; */",
      "import { z } from 'zod';",
    ].join('\n');
    const found = importsOf('/r', 'x/m.ts', text);
    expect(found.map((e) => [e.to, e.typeOnly, e.line])).toEqual([
      ['x/a.ts', false, 1], ['b.ts', true, 2], ['x/c/index.ts', false, 3], ['x/side.ts', false, 4], ['x/d.ts', false, 5],
    ]);
  });

  it('finds a cycle, and only the modules on it', () => {
    const edge = (from: string, to: string): ImportEdge => ({ from, to, typeOnly: false, line: 1 });
    expect(findCycles([edge('a', 'b'), edge('b', 'c'), edge('c', 'a'), edge('c', 'd')])).toEqual([['a', 'b', 'c']]);
    expect(findCycles([edge('a', 'b'), edge('b', 'c')])).toEqual([]);
  });
});

describe('layering', () => {
  it('reads a real graph (positive control)', () => {
    expect(edges.some((e) => e.from === 'bin/pd-router.ts' && e.to === 'scheduler/options.ts')).toBe(true);
    expect(edges.length).toBeGreaterThan(200);
  });

  it('src/ imports neither scheduler/ nor sidecar/', () => {
    expect(show(edges.filter((e) => top(e.from) === 'src' && ['scheduler', 'sidecar'].includes(top(e.to))))).toEqual([]);
  });

  it('scheduler/ and sidecar/ do not import each other', () => {
    expect(show(edges.filter((e) => (top(e.from) === 'scheduler' && top(e.to) === 'sidecar') || (top(e.from) === 'sidecar' && top(e.to) === 'scheduler')))).toEqual([]);
  });

  it('nothing outside bin/ imports bin/', () => {
    expect(show(edges.filter((e) => top(e.to) === 'bin' && top(e.from) !== 'bin'))).toEqual([]);
  });

  it('no import cycles', () => {
    expect(findCycles(edges)).toEqual([]);
  });

  it('no source file is over 300 lines', () => {
    const lines = (file: string): number => readFileSync(join(ROOT, file), 'utf8').split('\n').length - 1;
    const files = listSources(ROOT, CODE_DIRS);
    expect(files.some((file) => lines(file) > 200)).toBe(true); // positive control: the count reads real files
    expect(files.filter((file) => lines(file) > 300).map((file) => `${file}: ${lines(file)}`)).toEqual([]);
  });
});

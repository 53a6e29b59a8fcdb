/**
 * A tiny import-graph reader over our TypeScript sources (no dependency): every relative
 * `import … from`, `export … from`, side-effect `import '…'` and dynamic `import('…')`, resolved
 * from the `.js` specifier to the `.ts` file. Used by the layering test.
 */
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

export interface ImportEdge {
  from: string;
  to: string;
  /** `import type` / `export type`: erased at compile time. */
  typeOnly: boolean;
  line: number;
}

const SPECIFIER = /(?:^|[\s;}])(import|export)\s+(type\s+)?(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

export function listSources(root: string, dirs: string[]): string[] {
  const files: string[] = [];
  const walk = (dir: string): void => {
    if (!existsSync(dir)) return;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) files.push(relative(root, path));
    }
  };
  for (const dir of dirs) walk(join(root, dir));
  return files.sort();
}

/** Strips comments so commented-out or documented imports do not count. */
function stripComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, (m) => m.replace(/[^\n]/g, ' ')).replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

export function importsOf(root: string, file: string, text = readFileSync(join(root, file), 'utf8')): ImportEdge[] {
  const edges: ImportEdge[] = [];
  const source = stripComments(text);
  for (const match of source.matchAll(SPECIFIER)) {
    const specifier = match[3] ?? match[4];
    if (!specifier || !specifier.startsWith('.')) continue;
    const target = resolve(root, dirname(file), specifier).replace(/\.js$/, '.ts');
    const start = match.index + (match[0].length - match[0].replace(/^[\s;}]/, '').length);
    const line = source.slice(0, start).split('\n').length;
    edges.push({ from: file, to: relative(root, target), typeOnly: Boolean(match[2]), line });
  }
  return edges;
}

/** Strongly connected components with more than one module (or a self-import): the cycles. */
export function findCycles(edges: ImportEdge[]): string[][] {
  const graph = new Map<string, string[]>();
  for (const edge of edges) {
    if (!graph.has(edge.from)) graph.set(edge.from, []);
    if (!graph.has(edge.to)) graph.set(edge.to, []);
    graph.get(edge.from)!.push(edge.to);
  }
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const connect = (node: string): void => {
    index.set(node, counter);
    low.set(node, counter);
    counter++;
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node)!) {
      if (!index.has(next)) {
        connect(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node)!, index.get(next)!));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1 || graph.get(node)!.includes(node)) cycles.push(component.sort());
    }
  };
  for (const node of graph.keys()) if (!index.has(node)) connect(node);
  return cycles;
}

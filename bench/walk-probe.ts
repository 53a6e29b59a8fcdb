/**
 * The measuring half of bench/request-walk.ts: which project files one request passes through, in
 * order (V8 inspector, repeatable).
 *
 * 1. precise coverage with call counts around one request: every function of a project file
 *    (bin/ src/ scheduler/ sidecar/, not node_modules, not bench/) called during it — "files visited";
 * 2. a worker thread attaches a Debugger to this thread and sets a breakpoint at the start of each
 *    of those functions; the same request runs again, and every pause appends its file to the walk.
 *    "Returns": steps of the walk (consecutive entries into the same file collapsed) that enter a
 *    file the walk had already left — the back-and-forth a reader following the request does.
 * The simulator's own files (src/sim/) stand in for vLLM and are reported separately.
 */
import { Session } from 'node:inspector/promises';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

/** The build's root (`dist/`): project files are relative to it, node_modules lies outside. */
const ROOT = fileURLToPath(new URL('../', import.meta.url));

/** `dist/sidecar/proxy.js` → `sidecar/proxy.ts`; undefined for anything not ours. */
function projectFile(url: string): string | undefined {
  if (!url.startsWith('file://')) return undefined;
  const path = relative(ROOT, fileURLToPath(url));
  if (path.startsWith('..') || path.includes('node_modules') || path.startsWith('bench/')) return undefined;
  return path.replace(/\.js$/, '.ts');
}

interface FunctionStart { url: string; offset: number }

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { Session } = require('node:inspector');
const session = new Session();
session.connectToMainThread();
const post = (method, params) => new Promise((ok, fail) => session.post(method, params, (err, res) => err ? fail(err) : ok(res)));
const scripts = new Map();
session.on('Debugger.scriptParsed', ({ params }) => { if (params.url) scripts.set(params.scriptId, params.url); });
const walk = [];
session.on('Debugger.paused', ({ params }) => {
  walk.push(scripts.get(params.callFrames[0].location.scriptId) ?? '?');
  session.post('Debugger.resume');
});
parentPort.on('message', async (msg) => {
  if (msg === 'stop') { await post('Debugger.disable'); parentPort.postMessage({ walk }); return; }
});
(async () => {
  await post('Debugger.enable');
  const byUrl = new Map([...scripts].map(([id, url]) => [url, id]));
  const sources = new Map();
  for (const { url, offset } of workerData) {
    const scriptId = byUrl.get(url);
    if (scriptId === undefined) continue;
    let source = sources.get(scriptId);
    if (source === undefined) { source = (await post('Debugger.getScriptSource', { scriptId })).scriptSource; sources.set(scriptId, source); }
    const before = source.slice(0, offset);
    const lineNumber = before.split('\\n').length - 1;
    const columnNumber = offset - (before.lastIndexOf('\\n') + 1);
    await post('Debugger.setBreakpoint', { location: { scriptId, lineNumber, columnNumber } }).catch(() => undefined);
  }
  parentPort.postMessage('ready');
})();
`;

export interface Walk {
  /** Project files with at least one function called during the request. */
  readonly visited: ReadonlySet<string>;
  /** The file of every function entry, in order. */
  readonly entries: readonly string[];
}

/** Measures one request (`send`, already warmed up by the caller): coverage, then the ordered walk. */
export async function walkOne(send: () => Promise<void>): Promise<Walk> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.startPreciseCoverage', { callCount: true, detailed: false });
  await session.post('Profiler.takePreciseCoverage');
  await send();
  const { result } = await session.post('Profiler.takePreciseCoverage');
  await session.post('Profiler.stopPreciseCoverage');
  session.disconnect();
  const starts: FunctionStart[] = [];
  const visited = new Set<string>();
  for (const script of result) {
    const file = projectFile(script.url);
    if (file === undefined) continue;
    for (const fn of script.functions) {
      const range = fn.ranges[0]!;
      if (range.count === 0 || range.startOffset === 0) continue;
      visited.add(file);
      starts.push({ url: script.url, offset: range.startOffset });
    }
  }
  const worker = new Worker(WORKER, { eval: true, workerData: starts });
  await new Promise<void>((resolve) => worker.once('message', () => resolve()));
  await send();
  worker.postMessage('stop');
  const { walk } = await new Promise<{ walk: string[] }>((resolve) => worker.once('message', resolve));
  await worker.terminate();
  return { visited, entries: walk.map((url) => projectFile(url) ?? url) };
}

const GROUPS = ['sidecar/', 'src/http/', 'src/wire/', 'scheduler/gateway/', 'scheduler/extproc/', 'scheduler/frontdoor/'];

/** Prints the per-file table and the totals (router = everything but src/sim/). */
export function report(title: string, { visited, entries }: Walk): void {
  const steps: string[] = [];
  for (const file of entries) if (steps.at(-1) !== file) steps.push(file);
  const seen = new Set<string>();
  const returnsByFile = new Map<string, number>();
  let returns = 0;
  for (const file of steps) {
    if (seen.has(file)) {
      returns++;
      returnsByFile.set(file, (returnsByFile.get(file) ?? 0) + 1);
    }
    seen.add(file);
  }
  const isSim = (file: string): boolean => file.startsWith('src/sim/');
  const rows = [...visited].sort();
  console.log(`\n== ${title}\nfile                                             calls  returns`);
  for (const file of rows) {
    const calls = entries.filter((entry) => entry === file).length;
    console.log(`${file.padEnd(48)} ${String(calls).padStart(5)} ${String(returnsByFile.get(file) ?? 0).padStart(8)}`);
  }
  const routerFiles = rows.filter((file) => !isSim(file));
  const routerReturns = steps.filter((file, i) => !isSim(file) && steps.slice(0, i).includes(file)).length;
  console.log(`\nfiles visited: ${rows.length} (router ${routerFiles.length}, sim ${rows.length - routerFiles.length})`);
  console.log(`walk steps: ${steps.length}; returns: ${returns} (router files ${routerReturns})`);
  if (process.argv.includes('--steps')) console.log(`\nsteps:\n${steps.map((file, i) => `${String(i + 1).padStart(4)} ${file}`).join('\n')}`);
  for (const prefix of GROUPS) {
    const files = rows.filter((file) => file.startsWith(prefix)).length;
    const back = steps.filter((file, i) => file.startsWith(prefix) && steps.slice(0, i).includes(file)).length;
    console.log(`  ${prefix.padEnd(20)} files ${String(files).padStart(3)}  returns ${String(back).padStart(4)}`);
  }
}

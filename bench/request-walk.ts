/**
 * "Walking one request": which project files one P/D request passes through, in order, from the
 * EPP's built-in gateway to the sims (gateway → sidecar → prefill sim, decode sim), all in this
 * process.
 *
 * Method (V8 inspector, repeatable):
 * 1. warm-up request (lazy initialisation is not part of the walk);
 * 2. precise coverage with call counts around a second request: every function of a project file
 *    (bin/ src/ scheduler/ sidecar/, not node_modules) called during it — "files visited";
 * 3. a worker thread attaches a Debugger to this thread and sets a breakpoint at the start of each
 *    of those functions; a third request runs, and every pause appends its file to the walk.
 *    "Returns": steps of the walk (consecutive entries into the same file collapsed) that enter a
 *    file the walk had already left — the back-and-forth a reader following the request does.
 * The simulator's own files (src/sim/) stand in for vLLM and are reported separately.
 *
 *   npm run build && node dist/bench/request-walk.js
 */
import { Session } from 'node:inspector/promises';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { createLogger } from '../src/log.js';
import { startSimulator, type RunningSimulator } from '../src/sim/simulator.js';
import { startSidecar } from '../sidecar/main.js';
import { startEpp } from '../scheduler/main.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const silent = createLogger('walk', 'silent');

/** Every request disaggregated: prefill on the prefill pod, decode through the decode pod's sidecar. */
const CONFIG = `apiVersion: llm-d.ai/v1alpha1
kind: EndpointPickerConfig
plugins:
- type: prefix-cache-scorer
- type: queue-scorer
- type: max-score-picker
- type: prefill-filter
- type: decode-filter
- type: always-disagg-pd-decider
  name: decider
- type: disagg-profile-handler
  parameters:
    profiles: { decode: decode, prefill: prefill }
    deciders: { prefill: decider }
schedulingProfiles:
- name: prefill
  plugins: [{ pluginRef: prefill-filter }, { pluginRef: max-score-picker }, { pluginRef: prefix-cache-scorer }, { pluginRef: queue-scorer }]
- name: decode
  plugins: [{ pluginRef: decode-filter }, { pluginRef: max-score-picker }, { pluginRef: prefix-cache-scorer }, { pluginRef: queue-scorer }]
`;

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

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'pd-router-walk-'));
  const sim = (role: 'prefill' | 'decode'): Promise<RunningSimulator> =>
    startSimulator({ model: 'walk-model', host: '127.0.0.1', port: 0, mode: 'echo', role, podIp: '127.0.0.1', podName: role }, { logger: silent });
  const prefill = await sim('prefill');
  const decode = await sim('decode');
  const sidecar = await startSidecar({ port: 0, host: '127.0.0.1', vllmPort: decode.port, secureProxy: false, podIp: '127.0.0.1' }, { logger: silent });
  const endpointsFile = join(dir, 'endpoints.json');
  writeFileSync(endpointsFile, JSON.stringify({ endpoints: [
    { name: 'prefill-0', address: '127.0.0.1', port: prefill.port, labels: { 'llm-d.ai/role': 'prefill' } },
    { name: 'decode-0', address: '127.0.0.1', port: sidecar.port, labels: { 'llm-d.ai/role': 'decode' } },
  ] }));
  // Metrics refresh far apart, so no scrape runs during the walk.
  const epp = await startEpp({
    configText: CONFIG, endpointsFile, host: '127.0.0.1', gatewayPort: 0, grpcPort: -1, grpcHealthPort: -1, metricsPort: -1,
    secureServing: false, refreshMetricsIntervalMs: 600_000,
  }, silent);
  const send = async (): Promise<void> => {
    const res = await fetch(`${epp.gatewayUrl!}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'walk-model', messages: [{ role: 'user', content: 'walk one request through the P/D path, please' }], max_tokens: 4 }),
    });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`request failed: ${res.status} ${text}`);
  };
  try {
    await send();
    await send();
    // 2. files visited.
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
    // 3. the ordered walk.
    const worker = new Worker(WORKER, { eval: true, workerData: starts });
    await new Promise<void>((resolve) => worker.once('message', () => resolve()));
    await send();
    worker.postMessage('stop');
    const { walk } = await new Promise<{ walk: string[] }>((resolve) => worker.once('message', resolve));
    await worker.terminate();
    report(visited, walk.map((url) => projectFile(url) ?? url));
  } finally {
    await epp.close();
    await sidecar.close(0);
    await prefill.close();
    await decode.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function report(visited: ReadonlySet<string>, entries: readonly string[]): void {
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
  console.log('file                                             calls  returns');
  for (const file of rows) {
    const calls = entries.filter((entry) => entry === file).length;
    console.log(`${file.padEnd(48)} ${String(calls).padStart(5)} ${String(returnsByFile.get(file) ?? 0).padStart(8)}`);
  }
  const routerFiles = rows.filter((file) => !isSim(file));
  const routerReturns = steps.filter((file, i) => !isSim(file) && steps.slice(0, i).includes(file)).length;
  console.log(`\nfiles visited: ${rows.length} (router ${routerFiles.length}, sim ${rows.length - routerFiles.length})`);
  console.log(`walk steps: ${steps.length}; returns: ${returns} (router files ${routerReturns})`);
  for (const [label, prefix] of [['sidecar/', 'sidecar/'], ['src/http/', 'src/http/'], ['scheduler/gateway/', 'scheduler/gateway/']] as const) {
    const files = rows.filter((file) => file.startsWith(prefix)).length;
    const back = steps.filter((file, i) => file.startsWith(prefix) && steps.slice(0, i).includes(file)).length;
    console.log(`  ${label.padEnd(20)} files ${String(files).padStart(3)}  returns ${String(back).padStart(4)}`);
  }
}

await main();

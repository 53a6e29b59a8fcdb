/**
 * Precise prefix routing at long prompts through the EPP's two front doors: the EPP runs as its own
 * process (`pd-router epp`, the precise-prefix config: precise-prefix-cache-scorer with Qwen3's real
 * tokenizer, queue and kv-utilization scorers) over four simulators with the same tokenizer that
 * publish KV events to it over ZeroMQ — the index holds what the pods really computed.
 *
 * Per prompt (bench/long-prompts.ts: `chat` and `doc` shapes): a seed request through the gateway
 * puts the cached part on a pod (we wait until its KV events are in the index), then sequential
 * requests through
 *   gateway   POST /v1/chat/completions, forwarded to the chosen simulator (max_tokens 1);
 *   ext_proc  an Envoy-shaped gRPC exchange, the body in 64 KiB chunks (Envoy's streamed mode).
 * Reported: the EPP's scheduling time per request from its own request log line (`schedulingMs`:
 * Director → scorers, precise match included), the ext_proc round trip (parse + scheduling +
 * gRPC), and the EPP process's CPU per request, all threads (/proc/<pid>/task/*\/schedstat:
 * event loop, tokenizer workers, libuv pool), with requests/s per core = 1000 / CPU ms. The pool
 * is sized 1 and to every core. A last sweep sends 1–16 MB documents through ext_proc to show the
 * body path stays linear in size.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/epp-long-frontdoor.js [--quick] [--only doc:64000]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { availableCores } from '../src/tokenization/cores.js';
import type { RunningSimulator } from '../src/sim/simulator.js';
import { exchange, extProcClient, headersMessage } from './extproc-client.js';
import { MODEL, prompt, type Shape } from './long-prompts.js';
import { eppConfig, freePort, startSims } from './routing-cluster.js';

const quick = process.argv.includes('--quick');
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
const ROOT = fileURLToPath(new URL(import.meta.url.includes('/dist/') ? '../..' : '..', import.meta.url));

interface Epp {
  gateway: string;
  grpcPort: number;
  metrics: string;
  child: ChildProcess;
  /** `schedulingMs` of every request line logged so far, by request id. */
  scheduling: Map<string, number>;
  close(): Promise<void>;
}

/** On-CPU nanoseconds of every thread of `pid` (those alive now). */
function cpuNs(pid: number): number {
  let total = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return total;
}

async function poll<T>(what: string, read: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function startEpp(configText: string, sims: readonly RunningSimulator[], dir: string): Promise<Epp> {
  const [gatewayPort, grpcPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
  writeFileSync(join(dir, 'epp.yaml'), configText);
  writeFileSync(join(dir, 'endpoints.yaml'), `endpoints:\n${sims.map((sim, i) => `- name: sim-${i}\n  address: 127.0.0.1\n  port: ${sim.port}\n`).join('')}`);
  const child = spawn(process.execPath, [
    join(ROOT, 'dist/bin/pd-router.js'), 'epp', '--config', join(dir, 'epp.yaml'), '--endpoints', join(dir, 'endpoints.yaml'),
    '--host', '127.0.0.1', '--gateway-port', String(gatewayPort), '--grpc-port', String(grpcPort), '--grpc-health-port', '-1',
    '--metrics-port', String(metricsPort), '--secure-serving', 'false',
  ], { stdio: ['ignore', 'pipe', 'inherit'] });
  const scheduling = new Map<string, number>();
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      const entry = JSON.parse(line) as { msg?: string; requestId?: string; schedulingMs?: number };
      if (entry.requestId !== undefined && typeof entry.schedulingMs === 'number') scheduling.set(entry.requestId, entry.schedulingMs);
    } catch {
      // not a log line
    }
  });
  const metrics = `http://127.0.0.1:${metricsPort}/metrics`;
  await poll('the EPP', async () => ((await fetch(metrics)).ok ? true : undefined));
  return {
    gateway: `http://127.0.0.1:${gatewayPort}/v1/chat/completions`, grpcPort, metrics, child, scheduling,
    close: () => new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    }),
  };
}

async function metricValue(epp: Epp, name: string): Promise<number> {
  const text = await (await fetch(epp.metrics)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

function bodyOf(shape: Shape, tokens: number, iteration: number): Buffer {
  const { body } = prompt(shape, tokens, iteration);
  const chat = body.body as { messages: unknown };
  return Buffer.from(JSON.stringify({ model: MODEL, messages: chat.messages, max_tokens: 1 }));
}

async function viaGateway(epp: Epp, body: Buffer, id: string): Promise<{ status: number; promptTokens: number }> {
  const response = await fetch(epp.gateway, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': id }, body });
  const json = (await response.json()) as { usage?: { prompt_tokens?: number } };
  return { status: response.status, promptTokens: json.usage?.prompt_tokens ?? 0 };
}

/** The seed: the cached part lands on a pod; resolves when its KV events are in the index. */
async function seed(epp: Epp, shape: Shape, tokens: number): Promise<void> {
  const before = await metricValue(epp, 'llm_d_kv_cache_index_size');
  const { status, promptTokens } = await viaGateway(epp, bodyOf(shape, tokens, 0), `seed-${shape}-${tokens}`);
  if (status !== 200) throw new Error(`seed request answered ${status}`);
  const blocks = Math.floor(promptTokens / 16);
  await poll('the seed blocks in the index', async () => ((await metricValue(epp, 'llm_d_kv_cache_index_size')) >= before + blocks ? true : undefined));
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? Number.NaN;
}

interface Row { door: string; scheduling: number[]; roundTrip: number[]; cpuMs: number }

async function measure(epp: Epp, door: 'gateway' | 'ext_proc', bodies: readonly Buffer[], label: string): Promise<Row> {
  const client = extProcClient(epp.grpcPort);
  const ids: string[] = [];
  const roundTrip: number[] = [];
  const cpu0 = cpuNs(epp.child.pid!);
  try {
    for (const [i, body] of bodies.entries()) {
      const id = `${label}-${door}-${i}`;
      ids.push(id);
      const t0 = performance.now();
      if (door === 'gateway') {
        const { status } = await viaGateway(epp, body, id);
        if (status !== 200) throw new Error(`${id}: gateway answered ${status}`);
      } else {
        const answers = await exchange(client, body, { chunkBytes: 64 * 1024, headers: headersMessage('/v1/chat/completions', { 'x-request-id': id }) });
        if (answers.some((answer) => answer.immediate_response)) throw new Error(`${id}: ext_proc answered immediately`);
      }
      roundTrip.push(performance.now() - t0);
    }
  } finally {
    client.close();
  }
  const cpuMs = (cpuNs(epp.child.pid!) - cpu0) / 1e6 / bodies.length;
  const scheduling = await poll('the request log lines', async () => {
    const values = ids.map((id) => epp.scheduling.get(id));
    return values.every((value) => value !== undefined) ? (values as number[]) : undefined;
  }, 10_000);
  return { door, scheduling, roundTrip, cpuMs };
}

const f = (value: number): string => value.toFixed(2);

async function main(): Promise<void> {
  const { prepareModels } = (await import(pathToFileURL(`${ROOT}/scripts/prepare-models.mjs`).href)) as { prepareModels: () => Promise<string> };
  const tokenizerDir = join(await prepareModels(), 'models--Qwen--Qwen3-0.6B');
  const cores = availableCores();
  const kvPort = await freePort();
  const kvEndpoint = `tcp://127.0.0.1:${kvPort}`;
  const sims = await startSims({
    sims: 4, maxNumSeqs: 8, kvCacheSize: 65_536, prefillMsPerToken: 0, interTokenLatencyMs: 0, timeFactorUnderLoad: 1, seed: 7,
    tokenizer: tokenizerDir, maxModelLen: 1_000_000,
  }, kvEndpoint);
  const dir = mkdtempSync(join(tmpdir(), 'pd-router-epp-long-'));
  console.log(`# epp-long-frontdoor — ${MODEL}, 4 simulators with its tokenizer, Node ${process.version}, ${cores} core(s); times in ms\n`);
  console.log('| shape | prompt | front door | pool | scheduling p50 | scheduling p99 | round trip p50 | EPP CPU/request | requests/s per core |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  const cases: Array<[Shape, number, string]> = [
    ['chat', 4000, '~4k tok'], ['chat', 32000, '~32k tok'], ['chat', 128000, '~128k tok'],
    ['doc', 4000, '~4k tok'], ['doc', 32000, '~32k tok'], ['doc', 64000, '~200 KB'], ['doc', 128000, '~128k tok'],
  ];
  let sweep = '';
  try {
    for (const workers of [...new Set([1, cores])]) {
      const config = eppConfig('precise', kvEndpoint, tokenizerDir).replace('    tokenProcessorConfig:', `    tokenizerPool:\n      workers: ${workers}\n    tokenProcessorConfig:`);
      const epp = await startEpp(config, sims, dir);
      try {
        for (const [shape, tokens, name] of cases) {
          if (only !== undefined && only !== `${shape}:${tokens}`) continue;
          await seed(epp, shape, tokens);
          const iterations = quick ? 4 : tokens >= 100_000 ? 10 : tokens >= 30_000 ? 20 : 40;
          const bodies = Array.from({ length: iterations + 1 }, (_, i) => bodyOf(shape, tokens, 1000 + i));
          await measure(epp, 'ext_proc', bodies.slice(0, 1), `warm-${shape}-${tokens}-${workers}`);
          for (const door of ['gateway', 'ext_proc'] as const) {
            const row = await measure(epp, door, bodies.slice(1), `${shape}-${tokens}-${workers}`);
            const roundTrip = door === 'gateway' ? '(incl. model server)' : f(percentile(row.roundTrip, 0.5));
            console.log(`| ${shape} | ${name} | ${door} | ${workers} | ${f(percentile(row.scheduling, 0.5))} | ${f(percentile(row.scheduling, 0.99))} | ${roundTrip} | ${f(row.cpuMs)} | ${Math.round(1000 / row.cpuMs)} |`);
          }
        }
        if (workers === cores && only === undefined) sweep = await sizeSweep(epp);
      } finally {
        await epp.close();
      }
    }
  } finally {
    for (const sim of sims) await sim.close();
    rmSync(dir, { recursive: true, force: true });
  }
  if (sweep) console.log(`\n${sweep}`);
}

/** 1, 4 and 16 MB documents behind the cached system prompt, through ext_proc: cost per MB. */
async function sizeSweep(epp: Epp): Promise<string> {
  const lines = ['| body | ext_proc round trip p50 | per MB | EPP CPU/request | per MB |', '|---|---|---|---|---|'];
  for (const megabytes of [1, 4, 16]) {
    const tokens = Math.round((megabytes * 1024 * 1024) / 3.2);
    const bodies = Array.from({ length: quick ? 3 : 6 }, (_, i) => bodyOf('doc', tokens, 5000 + i));
    const mb = bodies[0]!.length / (1024 * 1024);
    const row = await measure(epp, 'ext_proc', bodies, `sweep-${megabytes}`);
    const p50 = percentile(row.roundTrip, 0.5);
    lines.push(`| ${mb.toFixed(1)} MB | ${f(p50)} | ${f(p50 / mb)} | ${f(row.cpuMs)} | ${f(row.cpuMs / mb)} |`);
  }
  return lines.join('\n');
}

await main();

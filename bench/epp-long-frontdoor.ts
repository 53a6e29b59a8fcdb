/**
 * Precise prefix routing at long prompts through the EPP's two front doors: the EPP runs as its own
 * process (`pd-router epp`, the precise-prefix config: precise-prefix-cache-scorer with Qwen3's real
 * tokenizer, queue and kv-utilization scorers) over four simulators with the same tokenizer that
 * publish KV events to it over ZeroMQ — the index holds what the pods really computed.
 *
 * Per pool size a fresh cluster; first, small requests until the tokenizer is loaded in every
 * pool worker (until then scoring outlasts the director's 400 ms producer budget). Per prompt
 * (bench/long-prompts.ts: `chat` and `doc` shapes): a seed request through the gateway puts the
 * cached part on a pod (we wait until an ext_proc probe with the same body finds all its blocks),
 * then sequential requests, with bodies unique to each front door, through
 *   gateway   POST /v1/chat/completions, forwarded to the chosen simulator (max_tokens 1); 100 ms
 *             apart, so the KV events of one are applied before the next is scheduled;
 *   ext_proc  an Envoy-shaped gRPC exchange, the body in 64 KiB chunks (Envoy's streamed mode); no
 *             model server, so no KV events.
 * Reported: the EPP's scheduling time per request from its own request log line (`schedulingMs`:
 * Director → scorers, precise match included), the ext_proc round trip (parse + scheduling +
 * gRPC), and the EPP process's CPU per request, all threads (/proc/<pid>/task/*\/schedstat:
 * event loop, tokenizer workers, libuv pool; through the gateway that includes applying the KV
 * events of the blocks the request stored), minus the idle EPP's background CPU, with requests/s
 * per core = 1000 / CPU ms, and the process's minor page faults per request. The pool is sized 1
 * and to every core. Then the same rows through an EPP without the precise scorer (pool `none`,
 * `--no-baseline` skips them): the front door's own cost. A last sweep sends 1–16 MB documents
 * through ext_proc to show the body path stays linear in size.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/epp-long-frontdoor.js [--quick] [--only doc:64000 | --only sweep] [--door gateway|ext_proc] [--iterations N] [--no-baseline]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { availableCores } from '../src/tokenization/cores.js';
import { cpuNs, metricValue, minorFaults, poll, ROOT, startEpp, type Epp } from './epp-child.js';
import { exchange, extProcClient, headersMessage, type ExtProcClient } from './extproc-client.js';
import { MODEL, prompt, type Shape } from './long-prompts.js';
import { eppConfig, startSims } from './routing-cluster.js';
import { freePort } from '../src/http/free-port.js';
import { positiveIntFlag } from './args.js';
import { quantileOf } from './stats.js';

const quick = process.argv.includes('--quick');
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
const onlyDoor = process.argv.includes('--door') ? process.argv[process.argv.indexOf('--door') + 1] : undefined;
/** `--iterations N`: requests per row instead of the size-based default (longer runs, less noise on a shared host). */
const iterationsFlag = positiveIntFlag(process.argv, 'iterations');

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

/** One request through ext_proc (the EPP schedules it; no model server is involved). */
async function viaExtProc(epp: Epp, client: ExtProcClient, body: Buffer, id: string): Promise<void> {
  const answers = await exchange(client, body, { chunkBytes: 64 * 1024, headers: headersMessage('/v1/chat/completions', { 'x-request-id': id }) });
  if (answers.some((answer) => answer.immediate_response)) throw new Error(`${id}: ext_proc answered immediately`);
}

/**
 * Until the tokenizer is loaded in every pool worker and warm: the EPP loads it in the background
 * after start (seconds on a loaded host), and a scoring that outlasts the director's 400 ms
 * producer budget is routed without prefix — the seed would land anywhere and the first measured
 * requests would time out. Small ext_proc requests until three in a row schedule under 20 ms.
 */
async function warmUp(epp: Epp): Promise<void> {
  const client = extProcClient(epp.grpcPort);
  let fast = 0;
  try {
    for (let i = 0; fast < 3; i++) {
      if (i > 600) throw new Error('the EPP never scheduled a request under 20 ms');
      const id = `warmup-${i}`;
      await viaExtProc(epp, client, bodyOf('doc', 4000, 90_000 + i), id);
      const ms = await poll('the warm-up log line', async () => epp.scheduling.get(id), 10_000);
      fast = ms < 20 ? fast + 1 : 0;
    }
  } finally {
    client.close();
  }
}

/**
 * The seed: the cached part lands on a pod. Resolves when the index answers every full block of
 * the seed prompt — probed with the same body through ext_proc, watching the leading blocks the
 * lookups found (llm_d_kv_cache_index_lookup_blocks_total). Counting index keys instead does not
 * work: blocks the pod held already publish no event, and keys another pod holds are not new.
 */
async function seed(epp: Epp, shape: Shape, tokens: number): Promise<void> {
  const body = bodyOf(shape, tokens, 0);
  const { status, promptTokens } = await viaGateway(epp, body, `seed-${shape}-${tokens}`);
  if (status !== 200) throw new Error(`seed request answered ${status}`);
  const blocks = Math.floor(promptTokens / 16);
  const client = extProcClient(epp.grpcPort);
  let probe = 0;
  try {
    await poll(`the ${blocks} seed blocks in the index`, async () => {
      const before = await metricValue(epp, 'llm_d_kv_cache_index_lookup_blocks_total');
      const id = `probe-${shape}-${tokens}-${probe++}`;
      await viaExtProc(epp, client, body, id);
      await poll('the probe log line', async () => epp.scheduling.get(id), 10_000);
      // The walk may outlast the producer budget on a long prompt: its lookups still count, later.
      const found = await poll('the probe lookups', async () => {
        const now = await metricValue(epp, 'llm_d_kv_cache_index_lookup_blocks_total');
        return now - before >= blocks ? now - before : undefined;
      }, 3_000).catch(() => 0);
      return found >= blocks ? true : undefined;
    }, 60_000);
  } finally {
    client.close();
  }
}


interface Row { door: string; scheduling: number[]; roundTrip: number[]; cpuMs: number; faults: number }

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The idle EPP's background CPU rate, subtracted from every row's CPU per request. */
async function measureIdle(epp: Epp): Promise<void> {
  const [cpu0, t0] = [cpuNs(epp.child.pid!), performance.now()];
  await sleep(3000);
  epp.idleNsPerMs = (cpuNs(epp.child.pid!) - cpu0) / (performance.now() - t0);
}

/**
 * Gateway requests are spaced this far apart (untimed): the KV events of a request's prompt are
 * then applied before the next one is scheduled, as they would be between two requests of one
 * client; their CPU is in the row's CPU per request all the same.
 */
const GATEWAY_GAP_MS = 100;

async function measure(epp: Epp, door: 'gateway' | 'ext_proc', bodies: readonly Buffer[], label: string): Promise<Row> {
  const client = extProcClient(epp.grpcPort);
  const ids: string[] = [];
  const roundTrip: number[] = [];
  const [cpu0, faults0, wall0] = [cpuNs(epp.child.pid!), minorFaults(epp.child.pid!), performance.now()];
  try {
    for (const [i, body] of bodies.entries()) {
      const id = `${label}-${door}-${i}`;
      ids.push(id);
      const t0 = performance.now();
      if (door === 'gateway') {
        const { status } = await viaGateway(epp, body, id);
        if (status !== 200) throw new Error(`${id}: gateway answered ${status}`);
      } else {
        await viaExtProc(epp, client, body, id);
      }
      roundTrip.push(performance.now() - t0);
      if (door === 'gateway') await sleep(GATEWAY_GAP_MS);
    }
  } finally {
    client.close();
  }
  const busyNs = cpuNs(epp.child.pid!) - cpu0 - epp.idleNsPerMs * (performance.now() - wall0);
  const cpuMs = Math.max(0, busyNs) / 1e6 / bodies.length;
  const faults = (minorFaults(epp.child.pid!) - faults0) / bodies.length;
  const scheduling = await poll('the request log lines', async () => {
    const values = ids.map((id) => epp.scheduling.get(id));
    return values.every((value) => value !== undefined) ? (values as number[]) : undefined;
  }, 10_000);
  return { door, scheduling, roundTrip, cpuMs, faults };
}

const f = (value: number): string => value.toFixed(2);

function printRow(shape: Shape, name: string, pool: string, row: Row): void {
  const roundTrip = row.door === 'gateway' ? '(incl. model server)' : f(quantileOf(row.roundTrip, 0.5));
  console.log(`| ${shape} | ${name} | ${row.door} | ${pool} | ${f(quantileOf(row.scheduling, 0.5))} | ${f(quantileOf(row.scheduling, 0.99))} | ${roundTrip} | ${f(row.cpuMs)} | ${Math.round(1000 / row.cpuMs)} | ${Math.round(row.faults)} |`);
}

/**
 * Four simulators (their tokenizer and KV-event endpoint added per run). Caches large enough that
 * nothing is evicted during the run: the sims publish one event per ZMQ message, so an eviction
 * storm would be thousands of BlockRemoved messages per request (vLLM batches a step's events) and
 * the EPP's CPU would measure that.
 */
const SIMS = {
  sims: 4, maxNumSeqs: 8, kvCacheSize: 1_048_576, prefillMsPerToken: 0, interTokenLatencyMs: 0, timeFactorUnderLoad: 1, seed: 7, maxModelLen: 1_000_000,
};

type Case = [Shape, number, string];

/** One prompt's rows: the requests through each selected door, printed with `pool` in its column. */
async function measureDoors(epp: Epp, [shape, tokens, name]: Case, pool: string, label: string): Promise<void> {
  const iterations = iterationsFlag ?? (quick ? 4 : tokens >= 100_000 ? 10 : tokens >= 30_000 ? 20 : 40);
  for (const [d, door] of (['gateway', 'ext_proc'] as const).entries()) {
    if (onlyDoor !== undefined && onlyDoor !== door) continue;
    // Unique bodies per door: a gateway request leaves its whole prompt cached on a pod.
    const bodies = Array.from({ length: iterations }, (_, i) => bodyOf(shape, tokens, 1000 * (d + 1) + i));
    printRow(shape, name, pool, await measure(epp, door, bodies, label));
  }
}

async function main(): Promise<void> {
  const { prepareModels } = (await import(pathToFileURL(`${ROOT}/scripts/prepare-models.mjs`).href)) as { prepareModels: () => Promise<string> };
  const tokenizerDir = join(await prepareModels(), 'models--Qwen--Qwen3-0.6B');
  const cores = availableCores();
  const dir = mkdtempSync(join(tmpdir(), 'pd-router-epp-long-'));
  console.log(`# epp-long-frontdoor — ${MODEL}, 4 simulators with its tokenizer, Node ${process.version}, ${cores} core(s); times in ms\n`);
  console.log('| shape | prompt | front door | pool | scheduling p50 | scheduling p99 | round trip p50 | EPP CPU/request | requests/s per core | page faults/request |');
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  const cases: Case[] = [
    ['chat', 4000, '~4k tok'], ['chat', 32000, '~32k tok'], ['chat', 128000, '~128k tok'],
    ['doc', 4000, '~4k tok'], ['doc', 32000, '~32k tok'], ['doc', 64000, '~200 KB'], ['doc', 128000, '~128k tok'],
  ];
  let sweep = '';
  try {
    for (const workers of [...new Set([1, cores])]) {
      // A fresh cluster per pool size: the new EPP's index starts empty, so the pods must too (a
      // pod that already holds a seed publishes nothing when it serves it again).
      const kvEndpoint = `tcp://127.0.0.1:${await freePort()}`;
      const sims = await startSims({ ...SIMS, tokenizer: tokenizerDir }, kvEndpoint);
      const config = eppConfig('precise', kvEndpoint, tokenizerDir).replace('    tokenProcessorConfig:', `    tokenizerPool:\n      workers: ${workers}\n    tokenProcessorConfig:`);
      const epp = await startEpp(config, sims, dir);
      try {
        await warmUp(epp);
        await measureIdle(epp);
        console.log(`<!-- pool ${workers}: idle EPP background CPU ${(epp.idleNsPerMs / 1e3).toFixed(1)} ms/s, subtracted -->`);
        for (const [shape, tokens, name] of cases) {
          if (only !== undefined && only !== `${shape}:${tokens}`) continue;
          await seed(epp, shape, tokens);
          await measure(epp, 'ext_proc', [bodyOf(shape, tokens, 999)], `warm-${shape}-${tokens}-${workers}`);
          await measureDoors(epp, [shape, tokens, name], String(workers), `${shape}-${tokens}-${workers}`);
        }
        if (workers === cores && (only === undefined || only === 'sweep')) sweep = await sizeSweep(epp);
      } finally {
        await epp.close();
        for (const sim of sims) await sim.close();
      }
    }
    if (!process.argv.includes('--no-baseline')) await baseline(cases, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (sweep) console.log(`\n${sweep}`);
}

/**
 * The same requests through an EPP without the precise scorer (queue and KV-utilization scorers
 * only: no tokenizer, no KV events): what any endpoint picker pays to take a body of that size in
 * through each front door, parse it and send it on. The precise rows minus these are what precise
 * prefix routing itself costs. Pool column `none`.
 */
async function baseline(cases: readonly Case[], dir: string): Promise<void> {
  const sims = await startSims(SIMS);
  const epp = await startEpp(eppConfig('load', ''), sims, dir); // 'load' subscribes to no KV events
  try {
    await warmUp(epp);
    await measureIdle(epp);
    console.log(`<!-- no precise scorer: idle EPP background CPU ${(epp.idleNsPerMs / 1e3).toFixed(1)} ms/s, subtracted -->`);
    for (const [shape, tokens, name] of cases) {
      if (only !== undefined && only !== `${shape}:${tokens}`) continue;
      await measureDoors(epp, [shape, tokens, name], 'none', `base-${shape}-${tokens}`);
    }
  } finally {
    await epp.close();
    for (const sim of sims) await sim.close();
  }
}

/** 1, 4 and 16 MB documents behind the cached system prompt, through ext_proc: cost per MB. */
async function sizeSweep(epp: Epp): Promise<string> {
  const lines = ['| body | ext_proc round trip p50 | per MB | EPP CPU/request | per MB |', '|---|---|---|---|---|'];
  for (const megabytes of [1, 4, 16]) {
    const tokens = Math.round((megabytes * 1024 * 1024) / 3.2);
    const bodies = Array.from({ length: quick ? 3 : 6 }, (_, i) => bodyOf('doc', tokens, 5000 + i));
    const mb = bodies[0]!.length / (1024 * 1024);
    const row = await measure(epp, 'ext_proc', bodies, `sweep-${megabytes}`);
    const p50 = quantileOf(row.roundTrip, 0.5);
    lines.push(`| ${mb.toFixed(1)} MB | ${f(p50)} | ${f(p50 / mb)} | ${f(row.cpuMs)} | ${f(row.cpuMs / mb)} |`);
  }
  return lines.join('\n');
}

await main();

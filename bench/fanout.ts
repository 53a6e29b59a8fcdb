/**
 * Fan-out of one long document (a RAG or agent fan-out): groups of K requests that share a unique
 * long document behind a shared system prompt, each ending with its own short question, sent a
 * few ms apart — all while the first one's KV events are still on their way (the simulator's
 * events are delayed by `--kv-event-delay-ms`, as vLLM reports blocks only after the prefill).
 * Only speculative index entries can make the followers find the first request's pod.
 *
 * Strategies (all precise prefix, KV events, queue + KV-utilisation scorers):
 *   off   no speculative entries;
 *   head  `speculativeIndexing`, guesses for the tokenized part only (`speculativeTail: false`);
 *   tail  `speculativeIndexing` with the untokenized rest guessed in the background (default).
 * Prints hit rate (Σ cached / Σ prompt tokens), TTFT, how many followers went to the first
 * request's pod, and the tails' outcomes. See docs/benchmarks.md "Speculative guesses at long prompts".
 *
 *   npm run build && node dist/bench/fanout.js [--groups 12] [--fanout 4] [--doc-tokens 16384] …
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Agent } from 'undici';
import type { RunningSimulator } from '../src/sim/simulator.js';
import { freePort } from '../src/http/free-port.js';
import { eppConfig, MODEL, startRoutingEpp, startSims, type EppHandle, simShapeOf, simShapeOptions, type Speculative } from './routing-cluster.js';
import { prng, streamChat, words, type TurnResult } from './routing-workload.js';
import { numberArg } from './args.js';
import { quantile } from './stats.js';

const LOOP_RESOLUTION_MS = 10;
const ALL: Speculative[] = ['off', 'head', 'tail'];
const LABELS: Record<Speculative, string> = {
  off: 'precise, no speculative entries',
  head: 'speculative, tokenized part only',
  tail: 'speculative + background tail',
};

const { values: args } = parseArgs({
  options: {
    ...simShapeOptions({ sims: 8, maxNumSeqs: 4, kvCacheSize: 8192, prefillMsPerToken: 0.05, itlMs: 3 }),
    'kv-event-delay-ms': { type: 'string', default: '1500' },
    groups: { type: 'string', default: '12' },
    fanout: { type: 'string', default: '4' },
    'system-tokens': { type: 'string', default: '2048' },
    'doc-tokens': { type: 'string', default: '16384' },
    'question-tokens': { type: 'string', default: '32' },
    'output-tokens': { type: 'string', default: '16' },
    'stagger-ms': { type: 'string', default: '100' },
    'group-interval-ms': { type: 'string', default: '500' },
    strategies: { type: 'string', default: ALL.join(',') },
  },
});

const num = (name: keyof typeof args): number => numberArg(args, name);

const shape = {
  groups: num('groups'), fanout: num('fanout'), systemTokens: num('system-tokens'), docTokens: num('doc-tokens'),
  questionTokens: num('question-tokens'), outputTokens: num('output-tokens'), staggerMs: num('stagger-ms'),
  groupIntervalMs: num('group-interval-ms'), seed: num('seed'),
};
const simShape = simShapeOf(args, {
  timeFactorUnderLoad: 1,
  maxModelLen: Math.max(32_768, 2 * (shape.systemTokens + shape.docTokens + shape.questionTokens + shape.outputTokens)),
  kvEventDelayMs: num('kv-event-delay-ms'),
});
const strategies = String(args.strategies).split(',').map((name) => name.trim()) as Speculative[];
for (const name of strategies) if (!ALL.includes(name)) throw new Error(`unknown strategy ${name} (known: ${ALL.join(', ')})`);

interface Sent extends TurnResult {
  group: number;
  index: number;
}

/** The messages of request `index` of group `group`: shared system prompt, the group's document, its own question. */
function messages(group: number, index: number): Array<{ role: 'system' | 'user'; content: string }> {
  const system = `Assistant instructions: ${words(prng(shape.seed), shape.systemTokens)}`;
  const doc = `Document ${group}: ${words(prng(shape.seed * 1000 + group + 1), shape.docTokens)}`;
  const question = `Question ${index}: ${words(prng((shape.seed * 1000 + group) * 100 + index), shape.questionTokens)}`;
  return [{ role: 'system', content: system }, { role: 'user', content: `${doc}\n\n${question}` }];
}

/**
 * One short request to each simulator and one through the EPP before measuring: tokenizers load
 * (with `--tokenizer`, in every sim and the EPP's worker) outside the measured burst. Too short to
 * fill a block, so no cache state is left behind.
 */
async function warmUp(gatewayUrl: string, sims: readonly RunningSimulator[]): Promise<void> {
  const dispatcher = new Agent({ connections: sims.length + 1 });
  const body = { model: MODEL, messages: [{ role: 'user', content: 'warm up' }], max_tokens: 1 };
  await Promise.all([gatewayUrl, ...sims.map((sim) => `${sim.url}/v1/chat/completions`)].map((url) => streamChat(dispatcher, url, body)));
  await dispatcher.close();
}

async function runGroups(url: string): Promise<Sent[]> {
  const dispatcher = new Agent({ connections: shape.groups * shape.fanout, pipelining: 0 });
  const sent: Sent[] = [];
  const one = async (group: number, index: number): Promise<void> => {
    await sleep(group * shape.groupIntervalMs + index * shape.staggerMs);
    const result = await streamChat(dispatcher, url, { model: MODEL, messages: messages(group, index), max_tokens: shape.outputTokens, ignore_eos: true });
    sent.push({ ...result, group, index });
  };
  const all: Array<Promise<void>> = [];
  for (let group = 0; group < shape.groups; group++) for (let index = 0; index < shape.fanout; index++) all.push(one(group, index));
  await Promise.all(all);
  await dispatcher.close();
  return sent;
}

interface Row {
  strategy: Speculative;
  requests: number;
  errors: number;
  hitRate: number;
  meanTtftMs: number;
  p90TtftMs: number;
  /** Followers (index ≥ 1) served by the pod of their group's first request. */
  withFirst: number;
  followers: number;
  /** Requests that found less than half their prompt cached (the document prefilled again). */
  fullPrefills: number;
  tails: Record<string, number>;
  loopDelayP99Ms: number;
  firstError?: string;
}


async function tailOutcomes(epp: EppHandle): Promise<Record<string, number>> {
  const metric = epp.epp.metrics.registry.getSingleMetric('pd_router_precise_prefix_speculative_tails_total');
  const out: Record<string, number> = {};
  if (metric === undefined) return out;
  for (const value of (await metric.get()).values) out[String(value.labels.outcome)] = value.value;
  return out;
}

async function runStrategy(strategy: Speculative): Promise<Row> {
  const kvEndpoint = `tcp://127.0.0.1:${await freePort()}`;
  let epp: EppHandle | undefined;
  let sims: RunningSimulator[] = [];
  try {
    sims = await startSims(simShape, kvEndpoint);
    epp = await startRoutingEpp(eppConfig('precise', kvEndpoint, simShape.tokenizer, strategy), sims);
    await sleep(1000);
    await warmUp(epp.gatewayUrl, sims);
    const delay = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
    delay.enable();
    const sent = await runGroups(epp.gatewayUrl);
    delay.disable();
    const ok = sent.filter((turn) => turn.ok);
    const ttfts = ok.map((turn) => turn.ttftMs).sort((a, b) => a - b);
    const first = new Map(ok.filter((turn) => turn.index === 0).map((turn) => [turn.group, turn.pod]));
    const followers = ok.filter((turn) => turn.index > 0);
    const row: Row = {
      strategy,
      requests: sent.length,
      errors: sent.length - ok.length,
      hitRate: ok.reduce((sum, turn) => sum + turn.cachedTokens, 0) / Math.max(1, ok.reduce((sum, turn) => sum + turn.promptTokens, 0)),
      meanTtftMs: ttfts.reduce((sum, value) => sum + value, 0) / Math.max(1, ttfts.length),
      p90TtftMs: quantile(ttfts, 0.9),
      withFirst: followers.filter((turn) => first.get(turn.group) === turn.pod).length,
      followers: followers.length,
      fullPrefills: ok.filter((turn) => turn.cachedTokens < turn.promptTokens / 2).length,
      tails: await tailOutcomes(epp),
      loopDelayP99Ms: Math.max(0, delay.percentile(99) / 1e6 - LOOP_RESOLUTION_MS),
    };
    const failed = sent.find((turn) => !turn.ok);
    if (failed) row.firstError = `${failed.status} ${failed.error ?? ''}`.trim();
    return row;
  } finally {
    await epp?.close();
    await Promise.all(sims.map((sim) => sim.close({ drainMs: 2_000 })));
  }
}

function table(rows: readonly Row[]): string {
  const lines = [
    '| strategy | hit rate | mean TTFT (ms) | p90 TTFT (ms) | followers on the first\'s pod | document prefills | requests (errors) | tails | event-loop lag p99 (ms) |',
    '|---|---:|---:|---:|---:|---:|---:|---|---:|',
  ];
  for (const row of rows) {
    const tails = Object.entries(row.tails).filter(([, count]) => count > 0).map(([outcome, count]) => `${outcome} ${count}`).join(', ') || '–';
    lines.push(`| ${LABELS[row.strategy]} | ${(row.hitRate * 100).toFixed(1)} % | ${row.meanTtftMs.toFixed(0)} | ${row.p90TtftMs.toFixed(0)} | ` +
      `${row.withFirst}/${row.followers} | ${row.fullPrefills} | ${row.requests} (${row.errors}) | ${tails} | ${row.loopDelayP99Ms.toFixed(1)} |`);
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const command = `node dist/bench/fanout.js ${process.argv.slice(2).join(' ')}`.trim();
  process.stderr.write(`${command}\n`);
  const rows: Row[] = [];
  for (const strategy of strategies) {
    process.stderr.write(`${strategy} …\n`);
    const row = await runStrategy(strategy);
    rows.push(row);
    process.stderr.write(`  ${strategy}: ${JSON.stringify(row)}\n`);
  }
  const s = simShape;
  console.log(`Fan-out of one document — ${s.sims} sims (max-num-seqs ${s.maxNumSeqs}, kv-cache-size ${s.kvCacheSize} blocks × 16, ` +
    `prefill ${s.prefillMsPerToken} ms/uncached token, KV events ${s.kvEventDelayMs} ms after admission, ` +
    `${s.tokenizer ? `tokenizer ${s.tokenizer}` : 'simulated tokenizer'}); ${shape.groups} groups of ${shape.fanout} requests ` +
    `(${shape.staggerMs} ms apart, a group every ${shape.groupIntervalMs} ms), ~${shape.systemTokens}-token shared system prompt + ` +
    `~${shape.docTokens}-token document per group + ~${shape.questionTokens}-token question; ${shape.outputTokens} output tokens; seed ${shape.seed}.`);
  console.log('');
  console.log(`\`${command}\``);
  console.log('');
  console.log(table(rows));
  for (const row of rows) if (row.firstError) console.log(`${row.strategy}: first error: ${row.firstError}`);
}

main().then(() => process.exit(0), (err: unknown) => {
  console.error(err);
  process.exit(1);
});

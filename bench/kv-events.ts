/**
 * Micro-benchmark of the KV-event write path and the index lookup, in process: BlockStored
 * batches as the simulator publishes them (`encodeEventBatch`, positional encoding, one event of
 * `blocks` × 16 tokens, uint64 hashes chained from the previous event's last block) go through
 * decode → key chain → memory index, then the request keys are looked up.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/kv-events.js [--quick]
 *
 * Rows (CPU µs per block, or per key for lookups; the mean over the rounds, so garbage collection
 * of what the index retains is counted):
 *   decode     decodeEventBatch of one payload
 *   keys       blockKeys over the event's tokens (canonical block 16)
 *   index.add  MemoryKvBlockIndex.add of (engine keys, request keys, one entry), a fresh document
 *   processor  the whole write path: KvEventProcessor.submit + drain on a growing index
 *   lookup     MemoryKvBlockIndex.lookup of a stored document's request keys (all hit)
 *   walk       the precise scorer's read path (walkPrefix) over a stored document's ids: keys
 *              chained batch by batch, looked up, LongestPrefix and confirmed-block scores (all hit)
 */
import { decodeEventBatch } from '../scheduler/kvcache/events/decode.js';
import { KvEventProcessor } from '../scheduler/kvcache/events/processor.js';
import { DEFAULT_TIER_WEIGHTS } from '../scheduler/kvcache/index/longest-prefix.js';
import { MemoryKvBlockIndex } from '../scheduler/kvcache/index/memory-index.js';
import { walkPrefix } from '../scheduler/kvcache/precise/read-path.js';
import { blockKeys, RootKeys, type BlockKey } from '../src/kvblock/keys.js';
import { encodeEventBatch } from '../src/sim/kv-events-publisher.js';
import { IdsStream } from '../src/tokenization/token-stream.js';

const quick = process.argv.includes('--quick');
const BLOCKS = 4096;
const BLOCK_SIZE = 16;
const ROUNDS = quick ? 5 : 30;
const MODEL = 'bench-model';
const POD = '10.0.0.1:8000';

/** Deterministic xorshift32 stream: token ids below Qwen3's vocabulary, 64-bit engine hashes. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>>= 0);
  };
}

interface Doc {
  payload: Uint8Array;
  tokens: number[];
  hashes: bigint[];
}

function doc(seed: number): Doc {
  const next = rng(seed * 7919 + 1);
  const tokens = Array.from({ length: BLOCKS * BLOCK_SIZE }, () => next() % 151_000);
  const hashes = Array.from({ length: BLOCKS }, () => (BigInt(next()) << 32n) | BigInt(next()));
  const payload = encodeEventBatch(
    1,
    [{ type: 'BlockStored', blockHashes: hashes, parentBlockHash: null, tokenIds: tokens, blockSize: BLOCK_SIZE, loraId: null, medium: 'GPU', loraName: null }],
    0,
    'positional',
  );
  return { payload, tokens, hashes };
}


/** CPU time (user + system, µs) rather than wall time: the host is shared, and waiting for a core is not our cost. */
async function timed(run: () => void | Promise<void>): Promise<number> {
  const start = process.cpuUsage();
  await run();
  const used = process.cpuUsage(start);
  return used.user + used.system;
}

const docs = Array.from({ length: ROUNDS + 2 }, (_, i) => doc(i + 1));
const root = new RootKeys('').get(MODEL);
const rows: Array<[string, number]> = [];

async function row(name: string, per: number, run: (d: Doc, i: number) => void | Promise<void>): Promise<void> {
  await run(docs[0]!, 0); // warm-up
  await run(docs[1]!, 1);
  let total = 0;
  for (let i = 0; i < ROUNDS; i++) total += await timed(() => run(docs[i + 2]!, i + 2));
  rows.push([name, total / ROUNDS / per]);
}

await row('decode', BLOCKS, (d) => void decodeEventBatch(d.payload));
await row('keys', BLOCKS, (d) => void blockKeys(d.tokens, BLOCK_SIZE, root));

const requestKeys = docs.map((d) => blockKeys(d.tokens, BLOCK_SIZE, root));
const addIndex = new MemoryKvBlockIndex();
const entry = [{ pod: POD, tier: 'gpu' }];
await row('index.add', BLOCKS, (d, i) => addIndex.add(d.hashes, requestKeys[i]!, entry));
await row('lookup', BLOCKS, async (_d, i) => {
  const found = await addIndex.lookup(requestKeys[i]!);
  if (found.length !== BLOCKS) throw new Error(`lookup found ${found.length} of ${BLOCKS}`);
});
const walkOptions = { blockSize: BLOCK_SIZE, root, endpointKeys: [POD, '10.0.0.2:8000'], weights: DEFAULT_TIER_WEIGHTS, estimateRest: () => 0 };
const docIds = docs.map((d) => Uint32Array.from(d.tokens));
await row('walk', BLOCKS, async (_d, i) => {
  const walk = await walkPrefix(addIndex, MODEL, new IdsStream(docIds[i]!), walkOptions);
  if (walk.cachedBlocks.get(POD) !== BLOCKS) throw new Error(`walk found ${walk.cachedBlocks.get(POD)} of ${BLOCKS}`);
});

const processorIndex = new MemoryKvBlockIndex();
const processor = new KvEventProcessor({ index: processorIndex, blockSize: BLOCK_SIZE, concurrency: 1 });
let seq = 0n;
await row('processor', BLOCKS, async (d) => {
  processor.submit({ topic: `kv@${POD}@${MODEL}`, seq: ++seq, payload: d.payload, source: 'bench' });
  await processor.drain();
});
const check = await processorIndex.lookup(requestKeys[ROUNDS + 1]! as BlockKey[]);
if (check.length !== BLOCKS) throw new Error(`processor stored ${check.length} of ${BLOCKS} keys`);
await processor.close();

console.log(`KV events: ${BLOCKS} blocks × ${BLOCK_SIZE} tokens per event, ${ROUNDS} rounds (mean CPU time), node ${process.version}`);
console.log('| stage | CPU µs per block |');
console.log('|---|---:|');
for (const [name, us] of rows) console.log(`| ${name} | ${us.toFixed(2)} |`);

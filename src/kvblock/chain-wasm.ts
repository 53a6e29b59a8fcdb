/**
 * The block-key chain for blocks without extras, in WebAssembly (source: `chain.wat` beside this
 * file). test/kvblock/chain-wasm.test.ts assembles the source with wabt (a dev dependency) and
 * fails, printing the new base64, when the bytes below differ from it. `keys.ts` calls it
 * for every `blockKeys` without extras: the KV events of every stored prompt and the request walk.
 *
 * Why: the JS chain carries FNV-1a-64 as two uint32 halves with a float multiply per byte (~5 ns a
 * byte, ~0.7 µs a 16-token block); with a native i64 multiply the same hash is ~2.5× faster per
 * block including the copy in and the BigInt per key out.
 *
 * Memory: one module-level instance; its memory holds at most CHUNK_TOKENS tokens (or one block,
 * when a block is larger) plus their keys, and calls are cut into chunks of that many blocks, so a
 * 16 MB prompt does not grow it. Everything here is synchronous (no other call can interleave).
 */
import { checkedTokenId } from './ints.js';

const WASM_BASE64 = 'AGFzbQEAAAABHQRgAn5/AX5gA35/fwF+YAJ+fgF+YAZ/f39/f38AAwUEAAECAwUDAQABBxICBm1lbW9yeQIABWNoYWluAAMK+AIEEAAgACABrYVCs4OAgIAgfgt8ACACQRhJBEAgACABIAJyEAAPCyACQYACSQRAIAAgAUEYchAAIAIQAA8LIAJBgIAESQRAIAAgAUEZchAAIAJBCHYQACACQf8BcRAADwsgACABQRpyEAAgAkEYdhAAIAJBEHZB/wFxEAAgAkEIdkH/AXEQACACQf8BcRAAC0kBAX4gAUKAgICAEFQEQCAAQQAgAacQAQ8LIABBGxAAIQBCOCECA0AgACABIAKIp0H/AXEQACEAIAJCCH0hAiACQgBZDQALIAALnQECAn4DfyADrUIghiAErYQhBiAAIQogAUUEQA8LA0BCpcaIocicp/lLQYMBEAAhByAHIAYQAiEHIAdBgAEgAhABIQdBACEJAkAgAkUNAANAIAdBACAKKAIAEAEhByAKQQRqIQogCUEBaiEJIAkgAkkNAAsLIAdB9gEQACEHIAUgCEEDdGogBzcDACAHIQYgCEEBaiEIIAggAUkNAAsL';

/** The slice of the WebAssembly API used here (the project's TypeScript libs do not declare it). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { readonly exports: unknown };
}
interface ChainExports {
  readonly memory: { readonly buffer: ArrayBuffer; grow(pages: number): number };
  chain(tokens: number, blocks: number, blockSize: number, parentHi: number, parentLo: number, out: number): void;
}

const { WebAssembly: wasm } = globalThis as unknown as { WebAssembly: WasmApi };
const exports = new wasm.Instance(new wasm.Module(Buffer.from(WASM_BASE64, 'base64'))).exports as ChainExports;

/** Tokens hashed per call at most (unless one block is larger): 256 KB of ids in the module's memory. */
const CHUNK_TOKENS = 65_536;
const PAGE = 65_536;

function ensureMemory(bytes: number): void {
  const missing = bytes - exports.memory.buffer.byteLength;
  if (missing > 0) exports.memory.grow(Math.ceil(missing / PAGE));
}

/**
 * Fills `keys[0..count)` with the chain of `count` full blocks of `tokens` from parent (hi, lo).
 * Throws RangeError on a token that is not a uint32 (a typed Uint32Array needs no check).
 */
export function chainKeys(tokens: ArrayLike<number>, blockSize: number, count: number, parentHi: number, parentLo: number, keys: bigint[]): void {
  if (count === 0) return;
  const perCall = Math.max(1, Math.floor(CHUNK_TOKENS / blockSize));
  const tokenBytes = perCall * blockSize * 4;
  ensureMemory(tokenBytes + perCall * 8);
  const typed = tokens instanceof Uint32Array ? tokens : undefined;
  let hi = parentHi;
  let lo = parentLo;
  for (let first = 0; first < count; first += perCall) {
    const blocks = Math.min(perCall, count - first);
    const start = first * blockSize;
    const end = start + blocks * blockSize;
    // Views are made after any growth: growing detaches the old buffer.
    const ids = new Uint32Array(exports.memory.buffer, 0, end - start);
    if (typed !== undefined) ids.set(typed.subarray(start, end));
    else {
      for (let i = start; i < end; i++) ids[i - start] = checkedTokenId(tokens[i]!);
    }
    exports.chain(0, blocks, blockSize, hi, lo, tokenBytes);
    const out = new DataView(exports.memory.buffer, tokenBytes, blocks * 8);
    for (let b = 0; b < blocks; b++) keys[first + b] = out.getBigUint64(b * 8, true);
    hi = out.getUint32((blocks - 1) * 8 + 4, true);
    lo = out.getUint32((blocks - 1) * 8, true);
  }
}

/**
 * Multimodal taint from BlockStored `extra_keys`, so request keys computed
 * from events equal the ones a Go llm-d EPP computes from the same events (both can share Redis).
 *
 * Per engine block, every bare string (vLLM ≥ 0.18 identifiers) and every `[hash, offset]` pair
 * (legacy) is taken as a multimodal hash; other values are ignored. Like upstream, this also takes
 * LoRA names and cache salts (vLLM puts those there as strings) as MM hashes (docs/prefix-cache.md).
 * Engine blocks are then realigned to canonical blocks: replicated when engine blocks are larger
 * (1:many), unioned when smaller (many:1).
 */
import type { BlockExtra } from '../../../src/kvblock/keys.js';

function mmHashesOf(keys: readonly unknown[] | null): string[] {
  if (keys === null) return [];
  const hashes: string[] = [];
  for (const key of keys) {
    if (typeof key === 'string') hashes.push(key);
    else if (Array.isArray(key) && key.length === 2 && typeof key[0] === 'string') hashes.push(key[0]);
  }
  return hashes;
}

function toExtra(hashes: readonly string[]): BlockExtra {
  return hashes.length === 0 ? null : hashes.map((hash) => ({ Hash: hash }));
}

/**
 * Per-canonical-block extras for `canonicalCount` blocks, or undefined when no engine block has a
 * multimodal key (the common text-only case: no per-block work at hash time).
 */
export function canonicalExtras(
  extraKeys: ReadonlyArray<readonly unknown[] | null> | null,
  canonicalCount: number,
): BlockExtra[] | undefined {
  if (extraKeys === null || extraKeys.length === 0 || canonicalCount === 0) return undefined;
  const perEngine = extraKeys.map(mmHashesOf);
  if (perEngine.every((hashes) => hashes.length === 0)) return undefined;
  const engineCount = perEngine.length;
  const canonical: string[][] = Array.from({ length: canonicalCount }, () => []);
  if (engineCount <= canonicalCount) {
    // Equal or 1:many: each canonical block takes its engine block's keys.
    for (let i = 0; i < canonicalCount; i++) canonical[i]!.push(...perEngine[Math.floor((i * engineCount) / canonicalCount)]!);
  } else {
    // many:1: a canonical block unions the keys of the engine blocks it covers, in order.
    perEngine.forEach((hashes, i) => canonical[Math.floor((i * canonicalCount) / engineCount)]!.push(...hashes));
  }
  return canonical.map(toExtra);
}

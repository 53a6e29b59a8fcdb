/**
 * The joint placement of one `burst-prefix-cache-producer` window (see that plugin's header).
 * Pure: entries (prefix block hashes, candidate names) + replicas → the replica of each entry, or
 * undefined (no affinity).
 */
export interface BurstEntry {
  readonly hashes: readonly bigint[];
  /** Names of the endpoints this request may go to. */
  readonly candidates: ReadonlySet<string>;
}

export interface BurstOptions {
  /** Members of one identical group per replica; -1 = unlimited. */
  readonly maxPerReplica: number;
  /** Shared leading blocks for prefix co-location; 0 = only identical groups are placed. */
  readonly minColocateBlocks: number;
}

const sharedLeading = (a: readonly bigint[], b: readonly bigint[]): number => {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
};

interface Unit { members: number[]; hashes: readonly bigint[]; identical: boolean }

export function assignBurst(entries: readonly BurstEntry[], replicas: readonly string[], options: BurstOptions): Array<string | undefined> {
  const assigned: Array<string | undefined> = entries.map(() => undefined);
  if (replicas.length === 0) return assigned;
  // 1. Identical prompts (same full hash chain) group together.
  const groups = new Map<string, number[]>();
  entries.forEach((entry, i) => {
    if (entry.hashes.length === 0) return;
    const key = entry.hashes.join(',');
    groups.set(key, [...(groups.get(key) ?? []), i]);
  });
  const units: Unit[] = [];
  for (const members of groups.values()) {
    const hashes = entries[members[0]!]!.hashes;
    if (members.length > 1) { units.push({ members, hashes, identical: true }); continue; }
    // A single request is a unit only when it shares enough leading blocks with another request.
    const min = options.minColocateBlocks;
    if (min > 0 && entries.some((other, j) => j !== members[0] && sharedLeading(hashes, other.hashes) >= min)) units.push({ members, hashes, identical: false });
  }
  // 2. Identical groups first, then longer prefixes first.
  units.sort((a, b) => Number(b.identical) - Number(a.identical) || b.hashes.length - a.hashes.length);
  const load = new Map(replicas.map((name) => [name, 0]));
  const placed: Array<{ replica: string; hashes: readonly bigint[] }> = [];
  const placedCount = units.reduce((n, unit) => n + unit.members.length, 0);
  const fairShare = Math.ceil(placedCount / replicas.length);
  const leastLoaded = (allowed: (name: string) => boolean): string | undefined => {
    let best: string | undefined;
    for (const name of replicas) if (allowed(name) && (best === undefined || load.get(name)! < load.get(best)!)) best = name;
    return best;
  };
  const give = (member: number, replica: string, hashes: readonly bigint[]): void => {
    assigned[member] = replica;
    load.set(replica, load.get(replica)! + 1);
    placed.push({ replica, hashes });
  };
  for (const unit of units) {
    const canTake = (name: string): boolean => unit.members.every((m) => entries[m]!.candidates.has(name));
    if (unit.identical) {
      // 3a. Fill one replica up to maxPerReplica, then spill to the next least-loaded one.
      const limit = options.maxPerReplica < 0 ? Infinity : options.maxPerReplica;
      const used = new Set<string>();
      let replica = leastLoaded(canTake);
      let onReplica = 0;
      for (const member of unit.members) {
        if (replica !== undefined && onReplica >= limit) {
          used.add(replica);
          replica = leastLoaded((name) => canTake(name) && !used.has(name)) ?? leastLoaded(canTake);
          onReplica = 0;
        }
        if (replica === undefined) break;
        give(member, replica, unit.hashes);
        onReplica++;
      }
      continue;
    }
    // 3b. A prefix-sharing unit joins a replica holding a unit it shares enough with, under the fair share.
    const near = placed.filter((p) => sharedLeading(p.hashes, unit.hashes) >= options.minColocateBlocks && canTake(p.replica) && load.get(p.replica)! < fairShare)
      .sort((a, b) => sharedLeading(b.hashes, unit.hashes) - sharedLeading(a.hashes, unit.hashes))[0];
    const replica = near?.replica ?? leastLoaded(canTake);
    if (replica !== undefined) for (const member of unit.members) give(member, replica, unit.hashes);
  }
  return assigned;
}

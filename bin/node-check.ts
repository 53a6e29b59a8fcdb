/** The runtime check run before anything else is imported (see pd-router.ts). No imports: it must load on any Node. */

/** Oldest Node that runs every dependency (undici 8 needs 22.19). Keep in step with package.json `engines`. */
export const MIN_NODE = [22, 19, 0] as const;

export function nodeTooOld(version: string): boolean {
  const parts = version.replace(/^v/, '').split('.').map((part) => Number.parseInt(part, 10) || 0);
  for (let i = 0; i < MIN_NODE.length; i++) {
    const have = parts[i] ?? 0;
    if (have !== MIN_NODE[i]) return have < MIN_NODE[i]!;
  }
  return false;
}

export function nodeVersionAdvice(version: string): string {
  return `pd-router: Node ${MIN_NODE.join('.')} or newer is required; this is Node ${version.replace(/^v/, '')} (${process.execPath}).\n`
    + '  Either run `source scripts/node24.sh` in the repository (it puts Node 24 on PATH for this shell),\n'
    + '  or install Node >= 22.19 (https://nodejs.org), then run the command again.\n';
}

/**
 * vitest globalSetup: compile to dist/ once so e2e tests spawn exactly what ships. Type errors do
 * not stop the run here (tsc still emits); `npm test` type-checks everything before vitest starts.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const tsc = fileURLToPath(new URL('../../node_modules/typescript/bin/tsc', import.meta.url));
  const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: root, encoding: 'utf8' });
  if (result.status !== 0) process.stderr.write(`warning: tsc reported errors while building dist/:\n${result.stdout}${result.stderr}`);
}

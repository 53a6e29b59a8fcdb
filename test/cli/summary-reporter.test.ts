/**
 * The closing `tests: …` line counts what really happened: a real vitest run over fixture files
 * (test/fixtures/reporter) that pass, fail, skip on purpose, fail in beforeAll, fail in afterAll
 * and fail to load.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const VITEST = fileURLToPath(new URL('../../node_modules/vitest/vitest.mjs', import.meta.url));

it('counts failed suites and files as failures, and only deliberate skips as skipped', () => {
  const run = spawnSync(process.execPath, [VITEST, 'run', '--root', 'test/fixtures/reporter'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, CI: '1' } });
  expect(run.status).toBe(1);
  const lines = run.stdout.split('\n').filter((line) => line.startsWith('tests: '));
  // ok: 1 passed, 1 failed, 2 skipped · before-all: 1 passed, 2 failed (did not run) ·
  // after-all: 1 passed, 1 failed (the hook) · broken-import: 1 failed (the file).
  expect(lines).toEqual(['tests: 3 passed, 5 failed, 2 skipped']);
});

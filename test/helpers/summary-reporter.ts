/**
 * Prints one plain closing line, `tests: N passed, N failed, N skipped`, after vitest's own
 * summary — the format CI tooling reads regardless of the test runner.
 *
 * Honest counting: a test that was meant to run but did not because its suite or file failed
 * (a throwing `beforeAll`, a file that does not load) is a failure, not a skip; a failed file or
 * suite with no test to blame counts once; errors outside any test (unhandled rejections) count
 * once each. Only tests skipped on purpose (`it.skip`, `skipIf`, `ctx.skip()`) in suites that did
 * not fail are skipped.
 */
import type { Reporter, SerializedError, TestCase, TestModule, TestSuite } from 'vitest/node';

export interface Counts {
  passed: number;
  failed: number;
  skipped: number;
}

function insideFailed(test: TestCase): boolean {
  for (let parent: TestSuite | TestModule = test.parent; ; parent = parent.parent) {
    // A suite's own errors (hooks, collection), not a failure propagated up from one of its tests.
    if (parent.state() === 'failed' && parent.errors().length > 0) return true;
    if (parent.type === 'module') return false;
  }
}

export function countResults(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown> = []): Counts {
  const counts: Counts = { passed: 0, failed: 0, skipped: 0 };
  for (const module of testModules) {
    let failedHere = 0;
    for (const test of module.children.allTests()) {
      const state = test.result().state;
      if (state === 'passed') counts.passed++;
      else if (state === 'failed') failedHere++;
      // vitest marks the tests of a suite whose beforeAll threw as skipped: they did not run, so they fail.
      else if (insideFailed(test)) failedHere++;
      else counts.skipped++;
    }
    // A failed file or suite whose failure no test carries (e.g. an afterAll that throws) still fails.
    const failedContainers = [module, ...module.children.allSuites()].filter((c) => c.state() === 'failed' && c.errors().length > 0);
    if (failedHere === 0 && (failedContainers.length > 0 || module.state() === 'failed')) failedHere = Math.max(1, failedContainers.length);
    counts.failed += failedHere;
  }
  counts.failed += unhandledErrors.length;
  return counts;
}

export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<SerializedError>): void {
    const { passed, failed, skipped } = countResults(testModules, unhandledErrors);
    process.stdout.write(`\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  }
}

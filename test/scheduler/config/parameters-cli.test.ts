/**
 * Through the real CLI: a misspelled plugin parameter in the shipped P/D config stops `pd-router
 * epp` at start-up with the YAML path, instead of starting with the default silently.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI } from '../../helpers/processes.js';

const PORTS = ['--host', '127.0.0.1', '--gateway-port', '0', '--grpc-port', '-1', '--grpc-health-port', '-1', '--metrics-port', '-1', '--secure-serving=false'];
const SHIPPED = readFileSync(join(import.meta.dirname, '../../../config/pd-epp-config.yaml'), 'utf8');

describe('pd-router epp with a misspelled plugin parameter', () => {
  it('exits 1 naming the file, the YAML path of the key and the known keys', () => {
    expect(SHIPPED).toContain('nonCachedTokens:');
    const dir = mkdtempSync(join(tmpdir(), 'epp-params-'));
    try {
      const file = join(dir, 'epp.yaml');
      writeFileSync(file, SHIPPED.replace('nonCachedTokens:', 'nonCachedTokenz:'));
      // A start-up that wrongly succeeds keeps running: the timeout turns that into a failure.
      const run = spawnSync(process.execPath, [CLI, 'epp', ...PORTS, '--config', file], { encoding: 'utf8', timeout: 15_000 });
      expect(run.status, `${run.stdout}${run.stderr}`).toBe(1);
      expect(run.stderr).toContain(file);
      expect(run.stderr).toMatch(/plugins\[\d+\]\.parameters\.nonCachedTokenz/);
      expect(run.stderr).toContain('nonCachedTokens');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

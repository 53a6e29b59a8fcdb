/**
 * The entry point refuses an old Node with advice instead of a dependency's import-time TypeError.
 * The end-to-end case runs the built entry with the machine's /usr/bin/node when that is older than
 * the minimum (the machine this project grew up on has Node 20 there).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MIN_NODE, nodeTooOld } from '../../bin/node-check.js';
import { CLI } from '../helpers/processes.js';

const OLD_NODE = '/usr/bin/node';
const oldVersion = existsSync(OLD_NODE) ? spawnSync(OLD_NODE, ['--version'], { encoding: 'utf8' }).stdout.trim() : '';
const haveOldNode = oldVersion !== '' && nodeTooOld(oldVersion);

describe('node version check', () => {
  it('compares versions against the minimum', () => {
    expect(MIN_NODE).toEqual([22, 19, 0]);
    expect(nodeTooOld('v20.20.2')).toBe(true);
    expect(nodeTooOld('v18.0.0')).toBe(true);
    expect(nodeTooOld('v22.18.9')).toBe(true);
    expect(nodeTooOld('v22.19.0')).toBe(false);
    expect(nodeTooOld('v23.0.0')).toBe(false);
    expect(nodeTooOld('v24.1.0')).toBe(false);
  });

  it('package.json engines matches the check', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { engines: { node: string }; bin: Record<string, string>; scripts: Record<string, string> };
    expect(pkg.engines.node).toBe(`>=${MIN_NODE.slice(0, 2).join('.')}`);
    expect(pkg.bin['pd-router']).toBe('dist/bin/pd-router.js');
    expect(pkg.scripts.start).toContain('dist/bin/pd-router.js demo');
  });

  it.skipIf(!haveOldNode)(`an old Node (${OLD_NODE} ${oldVersion || 'absent'}) gets advice, not a TypeError`, () => {
    for (const args of [['--help'], ['demo'], ['epp', '--help']]) {
      const run = spawnSync(OLD_NODE, [CLI, ...args], { encoding: 'utf8' });
      expect(run.status).toBe(1);
      expect(run.stderr).toContain(`this is Node ${oldVersion.slice(1)}`);
      expect(run.stderr).toContain('source scripts/node24.sh');
      expect(run.stderr).toContain('Node >= 22.19');
      expect(run.stderr).not.toContain('reading \'bind\'');
    }
  });

  it('the current Node runs the entry (positive control)', () => {
    const run = spawnSync(process.execPath, [CLI, '--help'], { encoding: 'utf8' });
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('Usage: pd-router');
  });
});

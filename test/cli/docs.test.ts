/**
 * What the README and docs tell a new user to run must work and must be safe: the inject example
 * runs as written, every hand-run sidecar binds loopback (it has no SSRF protection there), docs
 * link only files that exist in the repo, the config guide and endpoints-file format are there, and
 * `sidecar --help` lists every flag its own text names.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI } from '../helpers/processes.js';

const ROOT = join(import.meta.dirname, '../..');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const DOCS = readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => join(ROOT, 'docs', f));

const DECODE = `apiVersion: apps/v1
kind: Deployment
metadata: {name: d, namespace: llm}
spec:
  selector: {matchLabels: {app: d, llm-d.ai/role: decode}}
  template:
    metadata: {labels: {app: d, llm-d.ai/role: decode}}
    spec:
      containers:
      - name: vllm
        image: vllm/vllm-openai:v0.11.0
        args: ["m", "--port", "8000"]
`;

/** The README's shell lines that start with `npx pd-router <sub>` (continuation lines joined). */
function commands(sub: string): string[] {
  const joined = README.replace(/\\\n\s*/g, ' ');
  return [...joined.matchAll(new RegExp(`^npx pd-router ${sub}\\b.*$`, 'gm'))].map((m) => m[0]);
}

describe('README commands', () => {
  it('names everything `npm test` needs on a fresh machine (redis-server) and how to get Node', () => {
    expect(README).toContain('redis-server');
    expect(README).toContain('source scripts/node24.sh');
  });

  it('the inject example runs as written and injects the sidecar', () => {
    const [line] = commands('inject');
    expect(line, 'README shows an inject command').toBeDefined();
    const dir = mkdtempSync(join(tmpdir(), 'readme-inject-'));
    try {
      writeFileSync(join(dir, 'vllm-decode.yaml'), DECODE);
      // Run the README's own words: drop `npx pd-router` and everything after a pipe.
      const args = line!.replace(/^npx pd-router /, '').split('|')[0]!.trim().split(/\s+/);
      const run = spawnSync(process.execPath, [CLI, ...args], { cwd: dir, encoding: 'utf8' });
      expect(run.status, run.stderr).toBe(0);
      expect(run.stdout).toMatch(/- name: pd-sidecar|name: pd-sidecar/);
      const image = /--image[ =](\S+)/.exec(line!)?.[1];
      // The image shown must be one the user can name: a registry path, not a bare local tag.
      expect(image, 'the example names the image it injects').toBeDefined();
      expect(run.stdout).toContain(image!);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('every hand-run sidecar binds 127.0.0.1 unless SSRF protection is on', () => {
    const lines = commands('sidecar');
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) {
      if (line.includes('--enable-ssrf-protection')) continue;
      expect(line, line).toMatch(/--host[ =]127\.0\.0\.1\b/);
    }
  });
});

describe('docs', () => {
  it('cite no documents outside the repo, and every relative link resolves', () => {
    for (const file of [join(ROOT, 'README.md'), ...DOCS]) {
      const text = readFileSync(file, 'utf8');
      expect(text, file).not.toMatch(/`(\.\.\/shared\/)?spec\/[\w./-]*`|\.\.\/shared\b/);
      for (const [, target] of text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
        if (/^[a-z]+:/.test(target!)) continue;
        expect(existsSync(resolve(dirname(file), target!)), `${file} → ${target}`).toBe(true);
      }
    }
  });

  it('a "which config do I use" guide and the endpoints-file format are documented and linked', () => {
    const all = [README, ...DOCS.map((f) => readFileSync(f, 'utf8'))].join('\n');
    expect(existsSync(join(ROOT, 'docs/which-config.md'))).toBe(true);
    expect(all).toContain('which-config.md');
    const endpoints = readFileSync(join(ROOT, 'docs/endpoints-file.md'), 'utf8');
    for (const field of ['name', 'address', 'port', 'labels']) expect(endpoints).toContain(field);
    expect(all).toContain('endpoints-file.md');
  });
});

describe('help text', () => {
  it('sidecar --help lists every --flag its own descriptions mention', () => {
    const help = spawnSync(process.execPath, [CLI, 'sidecar', '--help'], { encoding: 'utf8' }).stdout;
    const listed = new Set([...help.matchAll(/^\s+(?:-\w, )?(--[a-z0-9-]+)/gm)].map((m) => m[1]));
    const mentioned = new Set([...help.matchAll(/(?<![\w-])(--[a-z][a-z0-9-]+)/g)].map((m) => m[1]));
    for (const flag of mentioned) expect(listed, flag).toContain(flag);
  });
});

/**
 * The Helm chart, checked without a template engine: its static parts (Chart.yaml, values.yaml
 * against values.schema.json, the default EndpointPickerConfig), the decode sidecar block against
 * `pd-router inject` (the source of truth), every flag the templates pass against the commands that
 * parse them, least RBAC, and a structural lint of each template. `helm template` runs only where
 * helm is installed; elsewhere that part is skipped with a note.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { parse, parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadEndpointPickerConfig } from '../../scheduler/config/loader.js';
import { addEppCommand } from '../../scheduler/options.js';
import { createDefaultRegistry } from '../../scheduler/plugins/index.js';
import { SIDECAR_FLAGS } from '../../sidecar/flag-table.js';
import { CONFIG_FIELDS } from '../../src/sim/config-fields.js';
import { addPoolFlags } from '../../src/k8s/pool-flags.js';
import { DEFAULT_SIDECAR_SETTINGS, SIDECAR_COMMAND, SIDECAR_NODE_FLAGS, sidecarArgs, sidecarContainer, type SidecarSettings } from '../../src/k8s/sidecar-container.js';
import { validate } from './json-schema-lite.js';
import { silentLogger } from './fixtures.js';

const CHART = join(import.meta.dirname, '../../charts/pd-router');
const read = (path: string): string => readFileSync(join(CHART, path), 'utf8');
// Parsed YAML is walked freely in assertions.
type Json = Record<string, any>;
const values = parse(read('values.yaml')) as Json;
const schema = JSON.parse(read('values.schema.json')) as Json;
const templates = readdirSync(join(CHART, 'templates'));

/** The text between two markers of a template (both must exist). */
function section(text: string, from: string, to: string): string {
  const start = text.indexOf(from);
  const end = text.indexOf(to, start + from.length);
  expect(start, `"${from}" in template`).toBeGreaterThanOrEqual(0);
  expect(end, `"${to}" after "${from}"`).toBeGreaterThan(start);
  return text.slice(start, end);
}

function withValue(path: string, value: unknown): Json {
  const copy = structuredClone(values);
  const keys = path.split('.');
  let node = copy;
  for (const key of keys.slice(0, -1)) node = node[key];
  if (value === undefined) delete node[keys.at(-1)!];
  else node[keys.at(-1)!] = value;
  return copy;
}

describe('chart: static parts', () => {
  it('Chart.yaml', () => {
    const chart = parse(read('Chart.yaml')) as Json;
    expect(chart).toMatchObject({ apiVersion: 'v2', name: 'pd-router', type: 'application' });
    expect(chart.version).toMatch(/^\d+\.\d+\.\d+$/);
    const pkg = JSON.parse(readFileSync(join(CHART, '../../package.json'), 'utf8')) as { version: string };
    expect(chart.appVersion).toBe(pkg.version);
    // Native sidecars (init containers with restartPolicy: Always) are on by default from 1.29.
    expect(chart.kubeVersion).toBe('>=1.29.0-0');
  });

  it('values.yaml satisfies values.schema.json (also with numbers where helm --set gives them)', () => {
    expect(validate(values, schema)).toEqual([]);
    expect(validate(withValue('tracing.samplerArg', 1), schema)).toEqual([]);
  });

  it.each([
    ['unknown top-level key', 'bogus', true, /unknown key "bogus"/],
    ['typo in a nested key', 'sidecar.ssrfProtecton', true, /unknown key "ssrfProtecton"/],
    ['zero EPP replicas', 'epp.replicas', 0, /epp\.replicas: must be ≥ 1/],
    ['unsupported connector', 'vllm.kvConnector', 'sglang', /must be one of nixlv2, shared-storage/],
    ['port out of range', 'pool.targetPort', 70000, /pool\.targetPort: must be ≤ 65535/],
    ['sampler ratio above 1', 'tracing.samplerArg', '2', /samplerArg: does not match/],
    ['sampler ratio above 1 as a number (helm --set)', 'tracing.samplerArg', 2, /samplerArg: must be ≤ 1/],
    ['route timeout not a Gateway API duration', 'gateway.httpRoute.timeout', '5 minutes', /timeout: does not match/],
    ['unknown pool group', 'pool.apiGroup', 'example.com', /must be one of/],
    ['missing image repository', 'epp.image.repository', undefined, /missing required "repository"/],
    ['string for a boolean', 'sidecar.secureProxy', 'yes', /expected boolean/],
    ['pool name not a DNS label', 'pool.name', 'My_Pool', /pool\.name: does not match/],
    ['missing model', 'model.name', '', /shorter than 1/],
  ])('the schema rejects: %s', (_what, path, value, message) => {
    expect(validate(withValue(path, value), schema).join('\n')).toMatch(message);
  });

  it('the default EndpointPickerConfig is config/pd-epp-config.yaml and loads', () => {
    const shipped = parse(readFileSync(join(CHART, '../../config/pd-epp-config.yaml'), 'utf8')) as unknown;
    expect(parse(values.epp.config as string)).toEqual(shipped);
    const loaded = loadEndpointPickerConfig(values.epp.config as string, { registry: createDefaultRegistry(), logger: silentLogger });
    expect([...loaded.scheduler.profiles.keys()].sort()).toEqual(['decode', 'prefill']);
    loaded.close();
  });
});

describe('chart: decode sidecar = pd-router inject', () => {
  const decode = read('templates/vllm-decode-deployment.yaml');
  const block = section(decode, '- name: pd-sidecar', '      containers:');
  const settings: SidecarSettings = { ...DEFAULT_SIDECAR_SETTINGS, port: 8000, pool: 'POOL', otlpEndpoint: 'http://collector:4317' };
  const container = sidecarContainer(settings);

  it('defaults agree', () => {
    expect(values.pool.targetPort).toBe(8000);
    expect(values.sidecar.vllmPort).toBe(DEFAULT_SIDECAR_SETTINGS.vllmPort);
    expect(values.vllm.kvConnector).toBe(DEFAULT_SIDECAR_SETTINGS.connector);
    expect(values.sidecar.secureProxy).toBe(DEFAULT_SIDECAR_SETTINGS.secureProxy);
    expect(values.sidecar.ssrfProtection).toBe(DEFAULT_SIDECAR_SETTINGS.ssrfProtection);
    expect(values.tracing.samplerArg).toBe(DEFAULT_SIDECAR_SETTINGS.samplerArg);
    expect(values.sidecar.resources).toEqual(container.resources);
    expect(values.sidecar.image.pullPolicy).toBe(container.imagePullPolicy);
  });

  it('native sidecar shape, command and port', () => {
    expect(section(decode, 'initContainers:', '- name: pd-sidecar')).toBe('initContainers:\n        ');
    expect(block).toContain('restartPolicy: Always');
    expect(block).toContain(`command: ${JSON.stringify(container.command).replaceAll(',', ', ')}`);
    expect(block).toMatch(/ports:\n\s+- name: http\n\s+containerPort: \{\{ \.Values\.pool\.targetPort \}\}\n\s+protocol: TCP/);
  });

  it('the same arguments', () => {
    const args = [...sidecarArgs(settings), ...sidecarArgs({ ...settings, poolGroup: 'inference.networking.x-k8s.io' })];
    for (const arg of new Set(args.map((a) => `${a.split('=')[0]}=`))) expect(block, arg).toContain(`- ${arg}`);
    expect(block).toContain('- --inference-pool=$(POD_NAMESPACE)/{{ include "pd-router.poolName" . }}');
    const templated = [...block.matchAll(/^\s+- (--[a-z-]+)=/gm)].map((m) => m[1]);
    expect(new Set(templated)).toEqual(new Set(args.map((a) => a.split('=')[0])));
  });

  it('the same environment, in the same order', () => {
    const env = container.env as Json[];
    const envBlock = section(block, 'env:', 'readinessProbe:');
    expect([...envBlock.matchAll(/- name: ([A-Z_]+)/g)].map((m) => m[1])).toEqual(env.map((e) => e.name));
    for (const e of env) {
      if (e.valueFrom) expect(envBlock).toContain(`fieldPath: ${e.valueFrom.fieldRef.fieldPath}`);
      else if (!['OTEL_TRACES_SAMPLER_ARG', 'OTEL_EXPORTER_OTLP_ENDPOINT'].includes(e.name)) expect(envBlock).toContain(`value: ${e.value}`);
    }
  });

  it('the same probes (HTTP or HTTPS with the proxy TLS) and security context', () => {
    for (const kind of ['readinessProbe', 'livenessProbe'] as const) {
      const probe = container[kind] as Json;
      const text = section(block, `${kind}:`, kind === 'readinessProbe' ? 'livenessProbe:' : 'resources:');
      expect(text).toContain(`path: ${probe.httpGet.path}`);
      expect(text).toContain('scheme: {{ if .Values.sidecar.secureProxy }}HTTPS{{ else }}HTTP{{ end }}');
      for (const key of ['periodSeconds', 'timeoutSeconds', 'failureThreshold']) expect(text).toContain(`${key}: ${probe[key]}`);
    }
    const securityContext = section(decode, '          securityContext:', '\n      containers:').replace(/^\s+securityContext:/, '');
    expect(parse(securityContext.split('\n').map((line) => line.slice(12)).join('\n'))).toEqual(container.securityContext);
  });
});

describe('chart: flags, RBAC, template structure', () => {
  it('every EPP argument is a flag of `pd-router epp` (with the pool flags)', () => {
    const program = new Command();
    addEppCommand(program);
    const known = new Set([
      ...program.commands.find((c) => c.name() === 'epp')!.options.map((o) => o.long),
      ...addPoolFlags(new Command()).options.map((o) => o.long),
    ]);
    const args = section(read('templates/epp-deployment.yaml'), 'args:', 'env:');
    const used = [...args.matchAll(/- (--[a-z-]+)/g)].map((m) => m[1]);
    expect(used).toEqual(expect.arrayContaining(['--config', '--pool-name', '--pool-namespace', '--pool-group', '--ha-enable-leader-election']));
    for (const flag of used) expect(known, flag).toContain(flag);
  });

  it('every sidecar and simulator argument is a flag of those commands', () => {
    const sidecarFlags = new Set(SIDECAR_FLAGS.map((f) => `--${f.name}`));
    const block = section(read('templates/vllm-decode-deployment.yaml'), '- name: pd-sidecar', 'env:');
    for (const [, flag] of block.matchAll(/- (--[a-z-]+)=/g)) expect(sidecarFlags, flag).toContain(flag);
    const simFlags = new Set(CONFIG_FIELDS.map((f) => `--${f.flag}`));
    const sim = section(read('templates/_helpers.tpl'), '["node", "/app/dist/bin/pd-router.js", "sim"]', '{{- else }}');
    const used = [...sim.matchAll(/--([a-z-]+)=/g)].map((m) => `--${m[1]}`);
    expect(used).toEqual(['--model', '--served-model-name', '--port', '--role']);
    for (const flag of used) expect(simFlags, flag).toContain(flag);
  });

  it('least RBAC: read pods, the pool and its InferenceObjectives; Leases only with leader election', () => {
    const rbac = read('templates/rbac.yaml');
    const rules = [...rbac.matchAll(/resources: \[([^\]]*)\]\n\s+verbs: \[([^\]]*)\]/g)].map((m) => `${m[1]} ${m[2]}`);
    expect(rules).toEqual([
      '"pods" "get", "list", "watch"',
      '"inferencepools" "get", "list", "watch"',
      '"inferenceobjectives" "get", "list", "watch"',
      '"leases" "get", "create", "update"',
      '"pods" "get", "list", "watch"',
      '"inferencepools" "get", "list", "watch"',
    ]);
    expect(section(rbac, '{{- if include "pd-router.leaderElection" . }}', '{{- end }}')).toContain('"leases"');
    expect(section(rbac, '{{- if .Values.sidecar.ssrfProtection }}', 'kind: RoleBinding')).toContain('"inferencepools"');
    expect(rbac).toContain('- apiGroups: [{{ .Values.pool.apiGroup | quote }}]');
    expect(rbac).toContain('- apiGroups: ["llm-d.ai"]\n    resources: ["inferenceobjectives"]');
    expect(rbac).not.toMatch(/ClusterRole|"\*"|delete|patch/);
  });

  it.each(templates)('%s: balanced actions; the YAML around them parses', (file) => {
    const text = read(`templates/${file}`);
    expect(text.split('{{').length).toBe(text.split('}}').length);
    const opens = text.match(/\{\{-?\s*(if|range|with|define)\b/g)?.length ?? 0;
    const ends = text.match(/\{\{-?\s*end\s*-?\}\}/g)?.length ?? 0;
    expect(ends, 'one {{ end }} per if/range/with/define').toBe(opens);
    if (!file.endsWith('.yaml')) return;
    // Lint, not render: drop action-only lines, stand in for inline actions, parse what is left.
    const skeleton = text
      .replace(/\{\{-?\s*\/\*[\s\S]*?\*\/\s*-?\}\}/g, '')
      .split('\n')
      .filter((line) => line.replace(/\{\{[^}]*\}\}/g, '').trim() !== '' || !line.includes('{{'))
      .map((line) => line.replace(/\{\{[^}]*\}\}/g, 'X'))
      .join('\n');
    for (const doc of parseAllDocuments(skeleton, { uniqueKeys: false })) expect(doc.errors.map((e) => e.message)).toEqual([]);
  });
});

function helmAvailable(): boolean {
  try {
    execFileSync('helm', ['version', '--short'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const hasHelm = helmAvailable();
if (!hasHelm) console.info('[chart.test] helm is not installed: `helm template` rendering checks are skipped');

describe.skipIf(!hasHelm)('chart: helm template (helm installed)', () => {
  const render = (...sets: string[]): Json[] => {
    const out = execFileSync('helm', ['template', 'qwen', CHART, '--namespace', 'llm', ...sets.flatMap((s) => ['--set', s])], { encoding: 'utf8' });
    return parseAllDocuments(out).map((d) => d.toJS() as Json).filter(Boolean);
  };
  const find = (docs: Json[], kind: string, name: string): Json => docs.find((d) => d.kind === kind && d.metadata.name === name)!;

  it('renders the decode sidecar exactly as pd-router inject writes it', () => {
    const docs = render('tracing.enabled=true');
    const spec = find(docs, 'Deployment', 'qwen-decode').spec.template.spec;
    const sidecar = spec.initContainers[0];
    const expected = sidecarContainer({ ...DEFAULT_SIDECAR_SETTINGS, image: 'pd-router:0.1.0', port: 8000, pool: 'qwen', otlpEndpoint: values.tracing.otlpEndpoint });
    expect(sidecar).toEqual(expected);
    expect(spec.containers[0].args).toContain('--port=8200');
    expect(find(docs, 'Deployment', 'qwen-prefill').spec.template.spec.initContainers).toBeUndefined();
  });

  it('renders the pool, EPP flags and RBAC for both pool generations and HA', () => {
    const v1 = render();
    expect(find(v1, 'InferencePool', 'qwen').spec).toMatchObject({ selector: { matchLabels: { 'llm-d.ai/inference-serving': 'true' } }, targetPorts: [{ number: 8000 }] });
    expect(find(v1, 'Role', 'qwen-epp').rules.map((r: Json) => r.resources[0])).toEqual(['pods', 'inferencepools', 'inferenceobjectives']);
    const ha = render('epp.replicas=2', 'pool.apiGroup=inference.networking.x-k8s.io');
    expect(find(ha, 'InferencePool', 'qwen')).toMatchObject({ apiVersion: 'inference.networking.x-k8s.io/v1alpha2', spec: { targetPortNumber: 8000 } });
    expect(find(ha, 'Role', 'qwen-epp').rules.map((r: Json) => r.resources[0])).toEqual(['pods', 'inferencepools', 'inferenceobjectives', 'leases']);
    expect(find(ha, 'Deployment', 'qwen-epp').spec.template.spec.containers[0].args).toContain('--ha-enable-leader-election');
  });

  it('bad values fail before anything is rendered', () => {
    expect(() => render('vllm.kvConnector=sglang')).toThrow();
  });
});

describe('one image name scheme: pd-router:<version>', () => {
  const ROOT = join(import.meta.dirname, '../..');
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const chart = parse(read('Chart.yaml')) as { appVersion: string; home?: string; sources?: string[] };

  it('chart appVersion is the package version, and the chart points at no other project', () => {
    expect(chart.appVersion).toBe(pkg.version);
    expect(chart.home ?? '').not.toContain('llm-d');
    expect((chart.sources ?? []).join()).not.toContain('llm-d');
  });

  it('EPP, sidecar and inject use the same image; one Dockerfile builds it', async () => {
    const { DEFAULT_SIDECAR_IMAGE } = await import('../../src/k8s/sidecar-container.js');
    const image = values as { epp: { image: { repository: string } }; sidecar: { image: { repository: string } } };
    expect(image.epp.image.repository).toBe('pd-router');
    expect(image.sidecar.image.repository).toBe('pd-router');
    expect(DEFAULT_SIDECAR_IMAGE).toBe(`pd-router:${pkg.version}`);
    expect(readdirSync(ROOT).filter((f) => f.startsWith('Dockerfile'))).toEqual(['Dockerfile']);
    expect(readFileSync(join(ROOT, 'Dockerfile'), 'utf8')).toContain(`docker build -t pd-router:${pkg.version} .`);
  });

  it('the sidecar runs with the same Node flags in the chart, inject and the Dockerfile', () => {
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    expect(SIDECAR_NODE_FLAGS).toContain('--max-semi-space-size=4');
    expect(SIDECAR_COMMAND).toEqual(['node', ...SIDECAR_NODE_FLAGS, '/app/dist/bin/pd-router.js', 'sidecar']);
    const decode = read('templates/vllm-decode-deployment.yaml');
    expect(decode).toContain(`command: ${JSON.stringify(SIDECAR_COMMAND).replaceAll(',', ', ')}`);
    // The Dockerfile names the container command and shows a hand run: both with the flags.
    expect(dockerfile).toContain(`command: ${JSON.stringify(SIDECAR_COMMAND).replaceAll(',', ', ')}`);
    expect(dockerfile).toContain(`--entrypoint node pd-router:${pkg.version} ${SIDECAR_NODE_FLAGS.join(' ')} dist/bin/pd-router.js sidecar`);
  });
});

/** `pd-router inject`: parse what it prints and check the pod specs. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { parseAllDocuments } from 'yaml';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { DEFAULT_INJECT_OPTIONS, injectManifests, type InjectOptions } from '../../src/k8s/inject.js';
import { addInjectCommand } from '../../src/k8s/inject-options.js';
import { tempDir } from './fixtures.js';

// Parsed YAML is walked freely in assertions.
type Json = Record<string, any>;

const OPTIONS: InjectOptions = { ...DEFAULT_INJECT_OPTIONS, pool: 'qwen-pool', image: 'registry.local/pd-router:test' };

function inject(yaml: string, options: Partial<InjectOptions> = {}) {
  return injectManifests(yaml, { ...OPTIONS, ...options });
}

const docs = (yaml: string): Json[] => parseAllDocuments(yaml).map((d) => d.toJS() as Json).filter(Boolean);

function podSpecOf(obj: Json): Json {
  if (obj.kind === 'Pod') return obj.spec;
  if (obj.kind === 'LeaderWorkerSet') return obj.spec.leaderWorkerTemplate.leaderTemplate.spec;
  return obj.spec.template.spec;
}

const sidecarOf = (spec: Json): Json => spec.initContainers.find((c: Json) => c.name === 'pd-sidecar');
const vllmOf = (spec: Json): Json => spec.containers.find((c: Json) => c.name === 'vllm');
const envMap = (container: Json): Record<string, unknown> => Object.fromEntries(container.env.map((e: Json) => [e.name, e.value ?? e.valueFrom?.fieldRef?.fieldPath]));

/** Constraints the API server would enforce on the pod spec we print. */
function expectValidPodSpec(spec: Json): void {
  const all: Json[] = [...(spec.initContainers ?? []), ...spec.containers];
  const names = all.map((c) => c.name);
  expect(new Set(names).size).toBe(names.length);
  const ports = all.flatMap((c) => c.ports ?? []);
  const portNames = ports.map((p: Json) => p.name).filter(Boolean);
  expect(new Set(portNames).size).toBe(portNames.length);
  for (const name of portNames) expect(name).toMatch(/^(?=.*[a-z])[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$/);
  const numbers = ports.map((p: Json) => p.containerPort);
  expect(new Set(numbers).size).toBe(numbers.length);
  for (const c of all) for (const e of c.env ?? []) expect(e.name).toMatch(/^[-._a-zA-Z][-._a-zA-Z0-9]*$/);
}

const decodeDeployment = `# decode pods of the pool
apiVersion: apps/v1
kind: Deployment
metadata:
  name: qwen-decode
  namespace: llm
spec:
  replicas: 2
  selector:
    matchLabels: {app: qwen, llm-d.ai/role: decode}
  template:
    metadata:
      labels: {app: qwen, llm-d.ai/role: decode}
    spec:
      initContainers:
      - name: fetch-model
        image: busybox
      containers:
      - name: vllm
        image: vllm/vllm-openai:v0.11.0
        args: ["Qwen/Qwen3-0.6B", "--port", "8000", "--kv-transfer-config", '{"kv_connector":"NixlConnector","kv_role":"kv_both"}']
        ports:
        - {name: http, containerPort: 8000, protocol: TCP}
        - {name: nixl, containerPort: 5600}
        readinessProbe:
          httpGet: {path: /health, port: http}
        livenessProbe:
          httpGet: {path: /health, port: 8000}
        startupProbe:
          tcpSocket: {port: 5600}
`;

const prefillDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: qwen-prefill # keep me
spec:
  template:
    metadata:
      labels: {app: qwen, llm-d.ai/role: prefill}
    spec:
      containers:
      - name: vllm
        image: vllm/vllm-openai:v0.11.0
        args: ["Qwen/Qwen3-0.6B", "--port=8000"]
`;

describe('inject', () => {
  it('adds a native sidecar on the target port and moves vLLM to 8200 (Deployment)', () => {
    const result = inject(decodeDeployment);
    expect(result.injected).toEqual(['Deployment/qwen-decode']);
    const spec = podSpecOf(docs(result.yaml)[0]!);
    expectValidPodSpec(spec);
    // Native sidecar: an init container with restartPolicy Always, after the existing ones.
    expect(spec.initContainers.map((c: Json) => c.name)).toEqual(['fetch-model', 'pd-sidecar']);
    expect(spec.containers.map((c: Json) => c.name)).toEqual(['vllm']);
    const sidecar = sidecarOf(spec);
    expect(sidecar).toMatchObject({
      image: 'registry.local/pd-router:test',
      restartPolicy: 'Always',
      command: ['node', '--max-semi-space-size=4', '/app/dist/bin/pd-router.js', 'sidecar'],
      ports: [{ name: 'http', containerPort: 8000, protocol: 'TCP' }],
      readinessProbe: { httpGet: { path: '/health', port: 8000, scheme: 'HTTP' } },
      livenessProbe: { httpGet: { path: '/health', port: 8000, scheme: 'HTTP' } },
      securityContext: { runAsNonRoot: true, allowPrivilegeEscalation: false },
    });
    expect(sidecar.args).toEqual([
      '--port=8000', '--vllm-port=8200', '--kv-connector=nixlv2', '--secure-proxy=false',
      '--enable-ssrf-protection=true', '--inference-pool=$(POD_NAMESPACE)/qwen-pool',
    ]);
    expect(envMap(sidecar)).toMatchObject({
      POD_NAME: 'metadata.name', POD_NAMESPACE: 'metadata.namespace', POD_IP: 'status.podIP',
      OTEL_SERVICE_NAME: 'llm-d-pd-sidecar', OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1',
    });
    // $(POD_NAMESPACE) only expands when POD_NAMESPACE is defined before it is used.
    const env = sidecar.env.map((e: Json) => e.name);
    expect(env.indexOf('POD_NAMESPACE')).toBeLessThan(env.indexOf('OTEL_RESOURCE_ATTRIBUTES'));
    expect(envMap(sidecar)).not.toHaveProperty('OTEL_EXPORTER_OTLP_ENDPOINT');

    const vllm = vllmOf(spec);
    expect(vllm.args).toEqual(['Qwen/Qwen3-0.6B', '--port', '8200', '--kv-transfer-config', '{"kv_connector":"NixlConnector","kv_role":"kv_both"}']);
    expect(vllm.ports).toEqual([{ name: 'vllm', containerPort: 8200, protocol: 'TCP' }, { name: 'nixl', containerPort: 5600 }]);
    expect(vllm.readinessProbe.httpGet.port).toBe(8200);
    expect(vllm.livenessProbe.httpGet.port).toBe(8200);
    expect(vllm.startupProbe.tcpSocket.port).toBe(5600);
  });

  it('is idempotent: injecting twice changes nothing', () => {
    const once = inject(decodeDeployment + '---\n' + prefillDeployment);
    const twice = inject(once.yaml);
    expect(twice.yaml).toBe(once.yaml);
    expect(twice.injected).toEqual([]);
    expect(twice.notes).toContain('Deployment/qwen-decode: already has a P/D sidecar; unchanged');
  });

  it('leaves prefill pods and other documents exactly as they were (comments included)', () => {
    const service = '# the pool service\napiVersion: v1\nkind: Service\nmetadata: {name: qwen}\nspec:\n  ports: [{port: 8000}]\n';
    const result = inject(`${prefillDeployment}---\n${service}`);
    expect(result.injected).toEqual([]);
    expect(result.notes).toEqual([]);
    expect(result.yaml).toContain('name: qwen-prefill # keep me');
    expect(result.yaml).toContain('# the pool service');
    expect(docs(result.yaml)).toEqual(docs(`${prefillDeployment}---\n${service}`));
  });

  it('copies untouched documents byte for byte and keeps the changed one\'s leading comment', () => {
    // Flow style, quoting, odd spacing and a document end marker: any re-serialization would show.
    const odd = "# a config map, formatted by hand\napiVersion:   v1\nkind: ConfigMap\nmetadata: { name: 'cm' }   # trailing\ndata:\n  k: \"v\"\n\n";
    const text = `${odd}---\n${decodeDeployment}---\n${odd}`;
    const result = inject(text);
    expect(result.injected).toHaveLength(1);
    expect(result.yaml.startsWith(`${odd}---\n# decode pods of the pool\n`)).toBe(true);
    expect(result.yaml.endsWith(`---\n${odd}`)).toBe(true);
    const untouched = inject(`${odd}---\n${odd}`);
    expect(untouched.yaml).toBe(`${odd}---\n${odd}`);
  });

  it('StatefulSet with a shell command: the --port inside the string is rewritten', () => {
    const result = inject(`apiVersion: apps/v1
kind: StatefulSet
metadata: {name: sts}
spec:
  template:
    metadata: {labels: {llm-d.ai/role: both}}
    spec:
      containers:
      - name: server
        image: ghcr.io/example/vllm-cuda:1
        command: ["/bin/sh", "-c"]
        args: ["pip list && exec vllm serve m --port=8001 --max-model-len 4096"]
        ports: [{containerPort: 8001}]
`);
    expect(result.injected).toEqual(['StatefulSet/sts']);
    const spec = podSpecOf(docs(result.yaml)[0]!);
    expectValidPodSpec(spec);
    expect(spec.containers[0].args).toEqual(['pip list && exec vllm serve m --port=8200 --max-model-len 4096']);
    expect(spec.containers[0].ports).toEqual([{ name: 'vllm', containerPort: 8200 }]);
    expect(sidecarOf(spec).ports).toEqual([{ name: 'http', containerPort: 8001, protocol: 'TCP' }]);
    expect(sidecarOf(spec).args).toContain('--port=8001');
  });

  it('a shell command without --port gets one appended when vLLM is the last command; otherwise a note', () => {
    const shell = (script: string) => `apiVersion: v1
kind: Pod
metadata: {name: p, labels: {llm-d.ai/role: decode}}
spec:
  containers:
  - {name: vllm, image: vllm/vllm-openai, command: ["sh", "-c", ${JSON.stringify(script)}]}
`;
    const appended = inject(shell('vllm serve m'));
    expect(podSpecOf(docs(appended.yaml)[0]!).containers[0].command[2]).toBe('vllm serve m --port 8200');
    const opaque = inject(shell('vllm serve m | tee /log'));
    expect(opaque.injected).toEqual([]);
    expect(opaque.notes[0]).toMatch(/could not find where to set vLLM's --port/);
  });

  it('LeaderWorkerSet: only the leader template (it serves the API)', () => {
    const result = inject(`apiVersion: leaderworkerset.x-k8s.io/v1
kind: LeaderWorkerSet
metadata: {name: big-decode}
spec:
  leaderWorkerTemplate:
    size: 2
    leaderTemplate:
      metadata: {labels: {llm-d.ai/role: decode}}
      spec:
        containers: [{name: vllm, image: vllm/vllm-openai, args: ["m", "--tensor-parallel-size", "16"]}]
    workerTemplate:
      metadata: {labels: {llm-d.ai/role: decode}}
      spec:
        containers: [{name: vllm, image: vllm/vllm-openai, command: ["ray", "start", "--block"]}]
`);
    expect(result.injected).toEqual(['LeaderWorkerSet/big-decode (leader)']);
    const lws = docs(result.yaml)[0]!;
    const leader = podSpecOf(lws);
    expect(leader.containers[0].args).toEqual(['m', '--tensor-parallel-size', '16', '--port', '8200']);
    expect(sidecarOf(leader).args).toContain('--port=8000');
    expect(lws.spec.leaderWorkerTemplate.workerTemplate.spec.initContainers).toBeUndefined();
  });

  it('Pod and List; --all reaches pods without a role label; the pool namespace can be fixed', () => {
    const list = `apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  metadata: {name: bare}
  spec:
    containers: [{name: model, image: vllm/vllm-openai:latest, args: ["m"]}]
`;
    const skipped = inject(list);
    expect(skipped.injected).toEqual([]);
    expect(skipped.notes[0]).toMatch(/Pod\/bare: not a decode pod .*use --all/);
    const result = inject(list, { all: true, pool: 'other-ns/pool', poolGroup: 'inference.networking.x-k8s.io', otlpEndpoint: 'http://jaeger-collector.observability:4317' });
    expect(result.injected).toEqual(['Pod/bare']);
    const spec = podSpecOf(docs(result.yaml)[0]!.items[0]);
    expectValidPodSpec(spec);
    expect(sidecarOf(spec).args).toEqual(expect.arrayContaining(['--inference-pool=other-ns/pool', '--pool-group=inference.networking.x-k8s.io']));
    expect(envMap(sidecarOf(spec)).OTEL_EXPORTER_OTLP_ENDPOINT).toBe('http://jaeger-collector.observability:4317');
    expect(spec.containers[0].args).toEqual(['m', '--port', '8200']);
  });

  it('TLS on: HTTPS probes; SSRF off: no pool flags', () => {
    const result = inject(decodeDeployment, { secureProxy: true, ssrfProtection: false, pool: undefined });
    const sidecar = sidecarOf(podSpecOf(docs(result.yaml)[0]!));
    expect(sidecar.readinessProbe.httpGet.scheme).toBe('HTTPS');
    expect(sidecar.livenessProbe.httpGet.scheme).toBe('HTTPS');
    expect(sidecar.args).toContain('--secure-proxy=true');
    expect(sidecar.args).toContain('--enable-ssrf-protection=false');
    expect(sidecar.args.some((a: string) => a.startsWith('--inference-pool'))).toBe(false);
  });

  it('refuses SSRF protection without a pool, and vLLM already on the target vLLM port', () => {
    expect(() => inject(decodeDeployment, { pool: undefined })).toThrow(/needs the InferencePool/);
    const clash = inject(decodeDeployment.replace('"--port", "8000"', '"--port", "8200"').replaceAll('8000', '8200'));
    expect(clash.injected).toEqual([]);
    expect(clash.notes[0]).toMatch(/already listens on 8200/);
  });

  it('--all never reaches prefill pods; a pod without a token gets a note', () => {
    expect(inject(prefillDeployment, { all: true }).injected).toEqual([]);
    const noToken = inject(decodeDeployment.replace('      initContainers:', '      automountServiceAccountToken: false\n      initContainers:'));
    expect(noToken.injected).toEqual(['Deployment/qwen-decode']);
    expect(noToken.notes.join('\n')).toMatch(/automountServiceAccountToken is false/);
  });

  it('keeps an existing llm-d routing-proxy', () => {
    const withProxy = decodeDeployment.replace('      - name: fetch-model\n        image: busybox\n', '      - name: routing-proxy\n        image: ghcr.io/llm-d/llm-d-routing-sidecar\n        restartPolicy: Always\n');
    expect(inject(withProxy).injected).toEqual([]);
  });
});

describe('pd-router inject (command)', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  async function run(args: string[]): Promise<string> {
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const program = new Command('pd-router').exitOverride();
      addInjectCommand(program);
      await program.parseAsync(['inject', ...args], { from: 'user' });
      return stderr.mock.calls.map((call) => String(call[0])).join('');
    } finally {
      stderr.mockRestore();
    }
  }

  it('reads a file, writes the injected YAML and reports on stderr', async () => {
    const input = join(tmp.dir, 'in.yaml');
    const output = join(tmp.dir, 'out.yaml');
    writeFileSync(input, decodeDeployment);
    const messages = await run(['-f', input, '-o', output, '--pool', 'llm/qwen-pool', '--image', 'img:1', '--otlp-endpoint', 'http://otel:4317']);
    expect(messages).toMatch(/sidecar added to Deployment\/qwen-decode/);
    expect(messages).toMatch(/needs get\/list\/watch on pods and inferencepools/);
    const sidecar = sidecarOf(podSpecOf(docs(readFileSync(output, 'utf8'))[0]!));
    expect(sidecar.image).toBe('img:1');
    expect(sidecar.args).toContain('--inference-pool=llm/qwen-pool');
  });

  it('fails without --pool while SSRF protection is on', async () => {
    const input = join(tmp.dir, 'in2.yaml');
    writeFileSync(input, decodeDeployment);
    await expect(run(['-f', input])).rejects.toThrow(/--pool \[namespace\/\]name is required/);
  });
});

/**
 * `pd-router inject`, the pure part: Kubernetes YAML in → the same YAML with the P/D sidecar
 * added to decode pods (like `istioctl kube-inject`), so existing vLLM manifests need no chart.
 *
 * - Pod templates are found in Pods, Deployments, StatefulSets, ReplicaSets, DaemonSets, Jobs,
 *   CronJobs, PodTemplates, LeaderWorkerSets (the leader template, else the worker template — the
 *   OpenAI server runs on the leader) and `kind: List` items.
 * - Decode pods: template label `llm-d.ai/role` = decode | both | prefill-decode; with `all`, also
 *   vLLM pod templates without a role. Prefill (and encode) pods are never touched.
 * - The sidecar takes over vLLM's port (the pool's target port); vLLM moves to `vllmPort` (8200):
 *   its `--port` argument, container port and probes are rewritten.
 * - Idempotent: a pod that already has the sidecar (or llm-d's `routing-proxy`) is left alone,
 *   and documents that change nothing are printed as they came (comments kept).
 */
import { Composer, CST, isMap, isNode, Parser, type Document } from 'yaml';
import { DEFAULT_SIDECAR_SETTINGS, KNOWN_SIDECAR_NAMES, sidecarContainer, type SidecarSettings } from './sidecar-container.js';

export const ROLE_LABEL = 'llm-d.ai/role';
export const DECODE_ROLES: ReadonlySet<string> = new Set(['decode', 'both', 'prefill-decode']);
/** vLLM's own default when no --port is given. */
const VLLM_DEFAULT_PORT = 8000;

export interface InjectOptions extends Omit<SidecarSettings, 'port'> {
  /** Inject into every pod template with a vLLM container, whatever its role label. */
  all: boolean;
}

export const DEFAULT_INJECT_OPTIONS: InjectOptions = { ...DEFAULT_SIDECAR_SETTINGS, all: false };

export interface InjectResult {
  yaml: string;
  /** `Kind/name` of every pod template that got the sidecar. */
  injected: string[];
  /** Things the user should know (skipped templates, manual steps). */
  notes: string[];
}

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const asObject = (value: unknown): Json => (isObject(value) ? value : {});
const strings = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []);

interface PodTemplate {
  where: string;
  labels: Record<string, string>;
  spec: Json;
}

export function injectManifests(text: string, options: InjectOptions): InjectResult {
  const result: InjectResult = { yaml: '', injected: [], notes: [] };
  let out = '';
  for (const group of documentTokens(text)) {
    // Each document's exact source: untouched documents are copied byte for byte.
    const source = group.map((token) => CST.stringify(token)).join('');
    const doc = composeOne(group);
    if (!doc) {
      out += source;
      continue;
    }
    if (doc.errors.length > 0) throw new Error(`invalid YAML: ${doc.errors[0]!.message}`);
    const obj: unknown = doc.toJS();
    const changed = obj !== null && obj !== undefined && templatesOf(obj).map((template) => injectTemplate(template, options, result)).some(Boolean);
    if (!changed) {
      out += source;
      continue;
    }
    // Rebuild only this document's body; its own comments before and after the body stay.
    const before = doc.contents;
    const body = doc.createNode(obj);
    if (before) {
      body.commentBefore = before.commentBefore ?? firstKeyComment(before);
      body.comment = before.comment;
    }
    (doc as Document).contents = body;
    const printed = doc.toString({ lineWidth: 0 });
    out += out === '' || out.endsWith('\n') ? printed : `\n${printed}`;
  }
  result.yaml = out;
  return result;
}

/** The stream's tokens grouped per document (stream-level tokens go with the next document). */
function documentTokens(text: string): CST.Token[][] {
  const groups: CST.Token[][] = [];
  let pending: CST.Token[] = [];
  for (const token of new Parser().parse(text)) {
    pending.push(token);
    if (token.type === 'document') {
      groups.push(pending);
      pending = [];
    }
  }
  if (pending.length > 0) groups.push(pending);
  return groups;
}

/** A comment above a mapping's first key (where the parser puts a document's leading comment). */
function firstKeyComment(node: unknown): string | undefined {
  if (!isMap(node)) return undefined;
  const key = node.items[0]?.key;
  return isNode(key) ? key.commentBefore ?? undefined : undefined;
}

function composeOne(group: CST.Token[]): Document.Parsed | undefined {
  if (!group.some((token) => token.type === 'document')) return undefined;
  const composer = new Composer();
  return [...composer.compose(group), ...composer.end()][0];
}

function templatesOf(obj: unknown): PodTemplate[] {
  if (!isObject(obj)) return [];
  const kind = String(obj.kind ?? '');
  const where = `${kind}/${String(asObject(obj.metadata).name ?? '?')}`;
  const spec = asObject(obj.spec);
  const fromTemplate = (template: unknown, suffix = ''): PodTemplate[] => {
    if (!isObject(template) || !isObject(template.spec)) return [];
    return [{ where: `${where}${suffix}`, labels: labelsOf(template), spec: template.spec }];
  };
  switch (kind) {
    case 'List':
      return (Array.isArray(obj.items) ? obj.items : []).flatMap(templatesOf);
    case 'Pod':
      return isObject(obj.spec) ? [{ where, labels: labelsOf(obj), spec: obj.spec }] : [];
    case 'PodTemplate':
      return fromTemplate(obj.template);
    case 'Deployment': case 'StatefulSet': case 'ReplicaSet': case 'DaemonSet': case 'Job':
      return fromTemplate(spec.template);
    case 'CronJob':
      return fromTemplate(asObject(asObject(spec.jobTemplate).spec).template);
    case 'LeaderWorkerSet': {
      const lwt = asObject(spec.leaderWorkerTemplate);
      return lwt.leaderTemplate ? fromTemplate(lwt.leaderTemplate, ' (leader)') : fromTemplate(lwt.workerTemplate, ' (worker)');
    }
    default:
      return [];
  }
}

function labelsOf(obj: Json): Record<string, string> {
  const labels = asObject(asObject(obj.metadata).labels);
  return Object.fromEntries(Object.entries(labels).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
}

function isVllm(container: Json): boolean {
  if (container.name === 'vllm' || /vllm/i.test(String(container.image ?? ''))) return true;
  return [...strings(container.command), ...strings(container.args)].some((arg) => /\bvllm\b/.test(arg));
}

/** Returns true when the sidecar was added. */
function injectTemplate(template: PodTemplate, options: InjectOptions, result: InjectResult): boolean {
  const { spec, where } = template;
  const containers = (Array.isArray(spec.containers) ? spec.containers : []).filter(isObject);
  const initContainers = (Array.isArray(spec.initContainers) ? spec.initContainers : []).filter(isObject);
  const vllm = containers.find(isVllm);
  const role = template.labels[ROLE_LABEL];
  if ([...initContainers, ...containers].some((c) => KNOWN_SIDECAR_NAMES.includes(String(c.name)))) {
    result.notes.push(`${where}: already has a P/D sidecar; unchanged`);
    return false;
  }
  if (!vllm) {
    if (options.all || (role && DECODE_ROLES.has(role))) result.notes.push(`${where}: no vLLM container found; unchanged`);
    return false;
  }
  // Prefill and encode pods serve vLLM directly on the target port, even with --all.
  if (role === 'prefill' || role === 'encode') return false;
  if (!options.all && !(role && DECODE_ROLES.has(role))) {
    result.notes.push(`${where}: not a decode pod (label ${ROLE_LABEL}=${role ?? '<none>'}); unchanged — use --all to inject anyway`);
    return false;
  }
  const port = findPort(vllm) ?? firstContainerPort(vllm) ?? VLLM_DEFAULT_PORT;
  if (port === options.vllmPort) {
    result.notes.push(`${where}: vLLM already listens on ${port}, the port it is to move to; pass another --vllm-port. Unchanged`);
    return false;
  }
  if (!moveVllm(vllm, options.vllmPort)) {
    result.notes.push(`${where}: could not find where to set vLLM's --port in its shell command; add "--port ${options.vllmPort}" to it. Unchanged`);
    return false;
  }
  const portName = renamePort(vllm, port, options.vllmPort);
  for (const key of ['readinessProbe', 'livenessProbe', 'startupProbe']) retargetProbe(vllm[key], port, portName, options.vllmPort);
  const { all: _all, ...settings } = options;
  spec.initContainers = [...initContainers, sidecarContainer({ ...settings, port }, portName ?? 'http')];
  result.injected.push(where);
  if (options.ssrfProtection && spec.automountServiceAccountToken === false) {
    result.notes.push(`${where}: automountServiceAccountToken is false, but the sidecar needs a token to watch the InferencePool (SSRF protection)`);
  }
  return true;
}

/** vLLM's `--port` from its command/args (arrays or a shell string). */
function findPort(container: Json): number | undefined {
  const tokens = [...strings(container.command), ...strings(container.args)];
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (token === '--port' && tokens[i + 1] !== undefined && /^\d+$/.test(tokens[i + 1]!)) return Number(tokens[i + 1]);
    const inline = /(?:^|\s)--port[= ](\d+)\b/.exec(token);
    if (inline) return Number(inline[1]);
  }
  return undefined;
}

function firstContainerPort(container: Json): number | undefined {
  const ports = (Array.isArray(container.ports) ? container.ports : []).filter(isObject);
  const port = ports[0]?.containerPort;
  return typeof port === 'number' ? port : undefined;
}

/** Points vLLM at `to`; false when its port cannot be set safely (an opaque shell command). */
function moveVllm(container: Json, to: number): boolean {
  let found = false;
  for (const key of ['command', 'args'] as const) {
    const list = container[key];
    if (!Array.isArray(list)) continue;
    container[key] = list.map((token: unknown, i: number) => {
      if (typeof token !== 'string') return token;
      if (i > 0 && list[i - 1] === '--port' && /^\d+$/.test(token)) return (found = true, String(to));
      if (/(?:^|\s)--port[= ]\d+\b/.test(token)) return (found = true, token.replace(/((?:^|\s)--port[= ])\d+\b/g, `$1${to}`));
      return token;
    });
  }
  if (found) return true;
  const shell = [...strings(container.command), ...strings(container.args)].find((token) => /\s/.test(token) && /\bvllm\b/.test(token));
  if (shell !== undefined) {
    // `sh -c "… && vllm serve …"`: safe to append only when vLLM is the last command.
    const last = shell.split(/&&|;|\|\||\n/).map((s) => s.trim()).filter(Boolean).pop() ?? '';
    if (!/\bvllm\b/.test(last) || /[|&>]/.test(last)) return false;
    for (const key of ['command', 'args'] as const) {
      if (Array.isArray(container[key])) container[key] = (container[key] as unknown[]).map((t) => (t === shell ? `${shell.trimEnd()} --port ${to}` : t));
    }
    return true;
  }
  // No --port anywhere (vLLM's default 8000, or the image's): say it explicitly.
  container.args = [...strings(container.args), '--port', String(to)];
  return true;
}

/** vLLM's port entry for `port` becomes `vllm: <new>`; returns the old name for the sidecar. */
function renamePort(container: Json, port: number, to: number): string | undefined {
  const ports = (Array.isArray(container.ports) ? container.ports : []).filter(isObject);
  const entry = ports.find((p) => p.containerPort === port);
  if (!entry) return undefined;
  const name = typeof entry.name === 'string' ? entry.name : undefined;
  container.ports = ports.map((p) => (p === entry ? { ...p, name: 'vllm', containerPort: to } : p));
  return name;
}

function retargetProbe(probe: unknown, port: number, portName: string | undefined, to: number): void {
  if (!isObject(probe)) return;
  for (const key of ['httpGet', 'tcpSocket', 'grpc']) {
    const action = probe[key];
    if (isObject(action) && (action.port === port || (portName !== undefined && action.port === portName) || action.port === String(port))) action.port = to;
  }
}

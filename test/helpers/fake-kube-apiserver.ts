/**
 * A small, real Kubernetes API server for tests: HTTPS (its own CA, like a cluster's) speaking the
 * REST protocol that @kubernetes/client-node and kubectl use — namespaced collections of pods,
 * InferencePools (v1 and v1alpha2 groups), InferenceObjectives and Leases:
 *
 * - list (`GET …/{plural}?labelSelector=&fieldSelector=`) with `metadata.resourceVersion`;
 * - watch (`?watch=true&resourceVersion=N`) streaming JSON-lines WatchEvents, replaying history
 *   after N, ADDED/DELETED when an object enters/leaves the selector, `410 Expired` in-stream
 *   when N is older than the compacted history;
 * - get / create (409 AlreadyExists) / replace (409 Conflict on a stale resourceVersion) / delete;
 * - bearer-token authentication (401 without it) and per-resource 403 (missing RBAC).
 *
 * Tests mutate state directly (`apply`, `remove`), can end watches cleanly (`endWatches`, a
 * server-side watch timeout), `stop()` the server (dropping every connection, as a crashing API
 * server does) and `restart()` it on the same port.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import selfsigned from 'selfsigned';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo, Socket } from 'node:net';

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; labels?: Record<string, string>; [key: string]: unknown };
  [key: string]: unknown;
}

type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

interface HistoryEvent {
  rv: number;
  collection: string;
  type: EventType;
  old?: KubeObject;
  object: KubeObject;
}

interface Watcher {
  collection: string;
  matches: (obj: KubeObject) => boolean;
  res: ServerResponse;
}

const KINDS: Record<string, string> = { pods: 'Pod', inferencepools: 'InferencePool', inferenceobjectives: 'InferenceObjective', leases: 'Lease' };
const PLURALS: Record<string, string> = Object.fromEntries(Object.entries(KINDS).map(([plural, kind]) => [kind, plural]));

export const FAKE_TOKEN = 'fake-kube-token';

export class FakeKubeApiServer {
  private server: Server | undefined;
  private readonly host: string;
  private readonly tls: { cert: string; key: string };
  port = 0;
  private rv = 100;
  private compactedRv = 0;
  private readonly store = new Map<string, Map<string, KubeObject>>();
  private history: HistoryEvent[] = [];
  private readonly watchers = new Set<Watcher>();
  private readonly forbidden = new Set<string>();
  /** Every TCP socket, including ones still in their TLS handshake (closeAllConnections misses those). */
  private readonly sockets = new Set<Socket>();
  /** `METHOD path?query` of every request, for assertions. */
  readonly requests: string[] = [];

  private constructor(host: string, tls: { cert: string; key: string }) {
    this.host = host;
    this.tls = tls;
  }

  static async start(host = '127.0.0.1'): Promise<FakeKubeApiServer> {
    // A self-signed serving certificate for the address, trusted through the kubeconfig's CA data.
    const generated = await selfsigned.generate([{ name: 'commonName', value: 'fake-kube-apiserver' }], {
      keyType: 'ec',
      curve: 'P-256',
      extensions: [
        { name: 'basicConstraints', cA: true },
        { name: 'keyUsage', digitalSignature: true, keyCertSign: true },
        { name: 'extKeyUsage', serverAuth: true },
        { name: 'subjectAltName', altNames: [{ type: 7, ip: host }] },
      ],
    });
    const api = new FakeKubeApiServer(host, { cert: generated.cert, key: generated.private });
    await api.listen(0);
    return api;
  }

  get url(): string {
    return `https://${this.host}:${this.port}`;
  }

  /** Writes a kubeconfig (bearer token, the server's CA) pointing at this server; returns its path. */
  writeKubeconfig(dir: string, name = 'kubeconfig'): string {
    const path = join(dir, name);
    writeFileSync(path, [
      'apiVersion: v1', 'kind: Config',
      'clusters:', `- name: fake`, '  cluster:', `    server: ${this.url}`, `    certificate-authority-data: ${Buffer.from(this.tls.cert).toString('base64')}`,
      'users:', '- name: fake', '  user:', `    token: ${FAKE_TOKEN}`,
      'contexts:', '- name: fake', '  context:', '    cluster: fake', '    user: fake', '    namespace: default',
      'current-context: fake', '',
    ].join('\n'));
    return path;
  }

  /** Creates or replaces an object (namespace defaults to `default`) and notifies watchers. */
  apply(input: KubeObject): KubeObject {
    const obj = structuredClone(input);
    obj.metadata.namespace ??= 'default';
    const key = this.collectionOf(obj);
    const bucket = this.bucket(key);
    const old = bucket.get(obj.metadata.name);
    obj.metadata.resourceVersion = String(++this.rv);
    obj.metadata.uid = old?.metadata.uid ?? `uid-${this.rv}`;
    obj.metadata.creationTimestamp = old?.metadata.creationTimestamp ?? new Date().toISOString();
    bucket.set(obj.metadata.name, obj);
    this.emit({ rv: this.rv, collection: key, type: old ? 'MODIFIED' : 'ADDED', old, object: obj });
    return structuredClone(obj);
  }

  /** Deletes an object; returns false when it did not exist. */
  remove(apiVersion: string, kind: string, namespace: string, name: string): boolean {
    const key = this.collectionOf({ apiVersion, kind, metadata: { name, namespace } });
    const old = this.bucket(key).get(name);
    if (!old) return false;
    this.bucket(key).delete(name);
    const object = { ...structuredClone(old), metadata: { ...old.metadata, resourceVersion: String(++this.rv) } };
    this.emit({ rv: this.rv, collection: key, type: 'DELETED', old, object });
    return true;
  }

  get(apiVersion: string, kind: string, namespace: string, name: string): KubeObject | undefined {
    const found = this.bucket(this.collectionOf({ apiVersion, kind, metadata: { name, namespace } })).get(name);
    return found && structuredClone(found);
  }

  /** Open watch streams. */
  get watchCount(): number {
    return this.watchers.size;
  }

  /** Ends every watch stream cleanly, as the API server does when a watch's timeout expires. */
  endWatches(): number {
    const count = this.watchers.size;
    for (const watcher of this.watchers) watcher.res.end();
    this.watchers.clear();
    return count;
  }

  /** Forgets history: watches resuming from an older resourceVersion get 410 Expired. */
  compact(): void {
    this.compactedRv = this.rv;
    this.history = [];
  }

  /** Answers 403 Forbidden for a resource (plural), as with missing RBAC. */
  forbid(plural: string, on = true): void {
    if (on) this.forbidden.add(plural);
    else this.forbidden.delete(plural);
  }

  /** Drops the listener and every open connection (watch streams included). */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const watcher of this.watchers) watcher.res.destroy();
    this.watchers.clear();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    await closed;
  }

  /** Listens again on the same port with the same state. */
  async restart(): Promise<void> {
    if (this.server) return;
    await this.listen(this.port);
  }

  async close(): Promise<void> {
    await this.stop();
  }

  private async listen(port: number): Promise<void> {
    const server: Server = createServer({ cert: this.tls.cert, key: this.tls.key }, (req, res) => this.handle(req, res));
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.host, () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  private collectionOf(obj: Pick<KubeObject, 'apiVersion' | 'kind' | 'metadata'>): string {
    const plural = PLURALS[obj.kind];
    if (!plural) throw new Error(`fake API server: unsupported kind ${obj.kind}`);
    return `${obj.apiVersion}/namespaces/${obj.metadata.namespace ?? 'default'}/${plural}`;
  }

  private bucket(key: string): Map<string, KubeObject> {
    let bucket = this.store.get(key);
    if (!bucket) this.store.set(key, (bucket = new Map()));
    return bucket;
  }

  private emit(event: HistoryEvent): void {
    this.history.push(event);
    for (const watcher of this.watchers) if (watcher.collection === event.collection) send(watcher, event);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://fake');
    this.requests.push(`${req.method} ${url.pathname}${url.search}`);
    if (req.headers.authorization !== `Bearer ${FAKE_TOKEN}`) return status(res, 401, 'Unauthorized', 'Unauthorized');
    const route = parsePath(url.pathname);
    if (!route) return status(res, 404, 'NotFound', `the server could not find the requested resource ${url.pathname}`);
    if (this.forbidden.has(route.plural)) {
      return status(res, 403, 'Forbidden', `${route.plural} is forbidden: User "system:serviceaccount:test" cannot ${req.method === 'GET' ? 'list' : 'write'} resource "${route.plural}"`);
    }
    const key = `${route.apiVersion}/namespaces/${route.namespace}/${route.plural}`;
    const kind = KINDS[route.plural]!;
    if (req.method === 'GET' && route.name === undefined) {
      const matches = selectorMatcher(url.searchParams.get('labelSelector') ?? '', url.searchParams.get('fieldSelector') ?? '');
      const watch = url.searchParams.get('watch');
      if (watch === 'true' || watch === '1') return this.startWatch(res, key, matches, url.searchParams.get('resourceVersion') ?? '');
      const items = [...this.bucket(key).values()].filter(matches);
      return json(res, 200, { apiVersion: route.apiVersion, kind: `${kind}List`, metadata: { resourceVersion: String(this.rv) }, items });
    }
    if (req.method === 'GET') {
      const found = this.bucket(key).get(route.name!);
      return found ? json(res, 200, found) : status(res, 404, 'NotFound', `${route.plural} "${route.name}" not found`);
    }
    if (req.method === 'DELETE' && route.name !== undefined) {
      return this.remove(route.apiVersion, kind, route.namespace, route.name)
        ? status(res, 200, '', 'deleted', 'Success')
        : status(res, 404, 'NotFound', `${route.plural} "${route.name}" not found`);
    }
    if (req.method === 'POST' || req.method === 'PUT') {
      readJson(req).then((body) => {
        const obj = { ...body, apiVersion: route.apiVersion, kind, metadata: { ...body.metadata, namespace: route.namespace } } as KubeObject;
        const existing = this.bucket(key).get(obj.metadata.name);
        if (req.method === 'POST') {
          if (existing) return status(res, 409, 'AlreadyExists', `${route.plural} "${obj.metadata.name}" already exists`);
          return json(res, 201, this.apply(obj));
        }
        if (!existing || obj.metadata.name !== route.name) return status(res, 404, 'NotFound', `${route.plural} "${route.name}" not found`);
        const wanted = obj.metadata.resourceVersion;
        if (wanted && wanted !== existing.metadata.resourceVersion) {
          return status(res, 409, 'Conflict', `Operation cannot be fulfilled on ${route.plural} "${route.name}": the object has been modified; please apply your changes to the latest version and try again`);
        }
        return json(res, 200, this.apply(obj));
      }, () => status(res, 400, 'BadRequest', 'invalid JSON body'));
      return;
    }
    status(res, 405, 'MethodNotAllowed', `${req.method} is not supported`);
  }

  private startWatch(res: ServerResponse, collection: string, matches: (obj: KubeObject) => boolean, from: string): void {
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    const watcher: Watcher = { collection, matches, res };
    const since = Number(from || '0');
    if (!from || from === '0') {
      for (const object of this.bucket(collection).values()) send(watcher, { rv: 0, collection, type: 'ADDED', object });
    } else if (since < this.compactedRv) {
      res.end(`${JSON.stringify({ type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `too old resource version: ${since} (${this.compactedRv})`, reason: 'Expired', code: 410 } })}\n`);
      return;
    } else {
      for (const event of this.history) if (event.rv > since && event.collection === collection) send(watcher, event);
    }
    this.watchers.add(watcher);
    res.on('close', () => this.watchers.delete(watcher));
  }
}

/** Writes the event as the watcher sees it: entering the selector is ADDED, leaving it DELETED. */
function send(watcher: Watcher, event: HistoryEvent): void {
  const now = watcher.matches(event.object);
  const before = event.old !== undefined && watcher.matches(event.old);
  let type: EventType | undefined = event.type;
  if (event.type === 'MODIFIED') type = now && before ? 'MODIFIED' : now ? 'ADDED' : before ? 'DELETED' : undefined;
  else if (event.type === 'ADDED' && !now) type = undefined;
  else if (event.type === 'DELETED' && !before) type = undefined;
  if (type) watcher.res.write(`${JSON.stringify({ type, object: event.object })}\n`);
}

function parsePath(path: string): { apiVersion: string; namespace: string; plural: string; name?: string } | undefined {
  const core = /^\/api\/v1\/namespaces\/([^/]+)\/([^/]+)(?:\/([^/]+))?$/.exec(path);
  const grouped = /^\/apis\/([^/]+)\/([^/]+)\/namespaces\/([^/]+)\/([^/]+)(?:\/([^/]+))?$/.exec(path);
  const route = core
    ? { apiVersion: 'v1', namespace: core[1]!, plural: core[2]!, name: core[3] }
    : grouped ? { apiVersion: `${grouped[1]}/${grouped[2]}`, namespace: grouped[3]!, plural: grouped[4]!, name: grouped[5] } : undefined;
  if (!route || !KINDS[route.plural]) return undefined;
  const validGroup = route.plural === 'pods' ? route.apiVersion === 'v1'
    : route.plural === 'leases' ? route.apiVersion === 'coordination.k8s.io/v1'
      : route.plural === 'inferenceobjectives' ? route.apiVersion === 'llm-d.ai/v1alpha2'
      : ['inference.networking.k8s.io/v1', 'inference.networking.x-k8s.io/v1alpha2'].includes(route.apiVersion);
  return validGroup ? { ...route, namespace: decodeURIComponent(route.namespace), name: route.name && decodeURIComponent(route.name) } : undefined;
}

/** Equality-based label selectors (`k=v`, `k==v`, `k!=v`, `k`, `!k`) and metadata field selectors. */
function selectorMatcher(labelSelector: string, fieldSelector: string): (obj: KubeObject) => boolean {
  const terms = labelSelector.split(',').map((t) => t.trim()).filter(Boolean).map((term) => {
    const ne = /^([^!=]+)!=(.*)$/.exec(term);
    if (ne) return (labels: Record<string, string>) => labels[ne[1]!] !== ne[2];
    const eq = /^([^=]+)==?(.*)$/.exec(term);
    if (eq) return (labels: Record<string, string>) => labels[eq[1]!] === eq[2];
    if (term.startsWith('!')) return (labels: Record<string, string>) => !(term.slice(1) in labels);
    return (labels: Record<string, string>) => term in labels;
  });
  const fields = fieldSelector.split(',').map((t) => t.trim()).filter(Boolean).map((term) => {
    const [field, value] = term.split('=') as [string, string];
    const read = (obj: KubeObject): unknown => (field === 'metadata.name' ? obj.metadata.name : field === 'metadata.namespace' ? obj.metadata.namespace : undefined);
    return (obj: KubeObject) => read(obj) === value;
  });
  return (obj) => terms.every((term) => term(obj.metadata.labels ?? {})) && fields.every((field) => field(obj));
}

function json(res: ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

function status(res: ServerResponse, code: number, reason: string, message: string, outcome = 'Failure'): void {
  json(res, code, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: outcome, message, reason, code });
}

async function readJson(req: IncomingMessage): Promise<KubeObject> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as KubeObject;
  if (typeof parsed?.metadata?.name !== 'string') throw new Error('metadata.name missing');
  return parsed;
}

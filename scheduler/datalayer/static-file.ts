/**
 * Static endpoint source: a YAML (or JSON) file listing the model-server endpoints, reloaded when
 * it changes. A file that stops parsing keeps the last good set (and says so in the log).
 *
 *   endpoints:
 *   - name: decode-0
 *     address: 10.0.0.7
 *     port: 8000
 *     labels: { llm-d.ai/role: decode }
 *
 * The format is documented in docs/endpoints-file.md. Errors name the file, the entry and the line;
 * a role label that no filter knows (`llm-d.ai/role: prefil`) or a bare `role:` label is accepted
 * but warned about, naming the endpoint (the pod would be served as an unlabeled decode pod).
 */
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import type { Logger } from '../../src/log.js';
import { ConfigSource } from '../config/source.js';
import { ConfigError } from '../framework/errors.js';
import { ROLE_LABEL } from '../framework/endpoint.js';
import { DECODE_ROLES, ENCODE_ROLES, PREFILL_ROLES } from '../plugins/filters/roles.js';
import type { EndpointSpec, EndpointStore } from './store.js';

const KNOWN_ROLES = [...new Set([...DECODE_ROLES, ...PREFILL_ROLES, ...ENCODE_ROLES])];
/** Label keys that look like a misplaced role label. */
const ROLE_LOOKALIKES = ['role', 'llm-d/role', 'llmd.ai/role', 'llm-d.ai/roles'];

const EndpointEntry = z.strictObject({
  name: z.string().min(1),
  namespace: z.string().optional(),
  address: z.string().min(1),
  port: z.number().int().min(1).max(65535),
  labels: z.record(z.string(), z.string()).optional(),
  metricsPort: z.number().int().min(1).max(65535).optional(),
});

const EndpointsFile = z.strictObject({ endpoints: z.array(EndpointEntry) });

/** Parses the file text; throws a ConfigError naming the file, the bad entry and its line. */
export function parseEndpointsFile(text: string, file?: string, logger?: Pick<Logger, 'warn'>): EndpointSpec[] {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  const source = new ConfigSource(doc, lines, file);
  if (doc.errors.length > 0) {
    const first = doc.errors[0]!;
    throw new ConfigError([], `invalid YAML: ${first.message.split('\n')[0]}`, { file, line: first.linePos?.[0]?.line });
  }
  const value: unknown = doc.toJS({ maxAliasCount: 100 }) ?? { endpoints: [] };
  if (Array.isArray(value)) throw source.error([], 'the file is a list; put the entries under a top-level `endpoints:` key (see docs/endpoints-file.md)');
  if (typeof value !== 'object') throw source.error([], 'the file must be a mapping with an `endpoints:` list (see docs/endpoints-file.md)');
  const result = EndpointsFile.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const path = issue.path.filter((key): key is string | number => typeof key !== 'symbol');
    if (issue.code === 'unrecognized_keys') throw source.error([...path, issue.keys[0]!], `unknown field "${issue.keys[0]!}" (known: ${Object.keys(path.length === 0 ? EndpointsFile.shape : EndpointEntry.shape).join(', ')})`);
    const missing = issue.code === 'invalid_type' && !source.has(path);
    throw source.error(path, missing ? 'required field is missing' : issue.message);
  }
  const names = new Set<string>();
  return result.data.endpoints.map((entry, i) => {
    if (names.has(entry.name)) throw source.error(['endpoints', i, 'name'], `duplicate endpoint name "${entry.name}"`);
    names.add(entry.name);
    if (logger) warnAboutRole(entry.name, entry.labels ?? {}, (message) => logger.warn({ endpoint: entry.name, file, line: source.line(['endpoints', i, 'labels']) }, message));
    const metricsHost = entry.metricsPort ? `${entry.address.includes(':') ? `[${entry.address}]` : entry.address}:${entry.metricsPort}` : undefined;
    return { name: entry.name, namespace: entry.namespace, address: entry.address, port: entry.port, labels: entry.labels, metricsHost };
  });
}

function warnAboutRole(name: string, labels: Readonly<Record<string, string>>, warn: (message: string) => void): void {
  const role = labels[ROLE_LABEL];
  if (role !== undefined && !KNOWN_ROLES.includes(role)) {
    warn(`endpoint "${name}": ${ROLE_LABEL}: "${role}" is not a known role (${KNOWN_ROLES.join(', ')}); the filters treat it as unlabeled (decode)`);
  }
  for (const key of ROLE_LOOKALIKES) {
    if (labels[key] !== undefined && role === undefined) warn(`endpoint "${name}": label "${key}" is not the role label; did you mean "${ROLE_LABEL}: ${labels[key]}"? Without ${ROLE_LABEL} the endpoint is treated as unlabeled (decode)`);
  }
}

export class StaticFileSource {
  private watcher: FSWatcher | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private readonly path: string;
  private readonly store: EndpointStore;
  private readonly logger: Logger;

  constructor(path: string, store: EndpointStore, logger: Logger) {
    this.path = path;
    this.store = store;
    this.logger = logger;
  }

  /** Loads the file (throwing on a bad first load: start-up must fail loudly) and starts watching. */
  start(): void {
    this.store.replaceAll(parseEndpointsFile(readFileSync(this.path, 'utf8'), this.path, this.logger));
    this.logger.info({ path: this.path, endpoints: this.store.list().length }, 'endpoints loaded');
    // Watch the directory: editors and ConfigMap updates replace the file rather than write it.
    const file = basename(this.path);
    this.watcher = watch(dirname(this.path), (_event, changed) => {
      if (changed && changed !== file && !changed.startsWith('..')) return;
      clearTimeout(this.debounce);
      this.debounce = setTimeout(() => this.reload(), 100);
    });
    this.watcher.on('error', (err) => this.logger.warn({ err }, 'endpoints file watch failed'));
  }

  reload(): void {
    try {
      this.store.replaceAll(parseEndpointsFile(readFileSync(this.path, 'utf8'), this.path, this.logger));
      this.logger.info({ path: this.path, endpoints: this.store.list().length }, 'endpoints reloaded');
    } catch (err) {
      this.logger.error({ path: this.path, err: (err as Error).message }, 'endpoints file is invalid; keeping the last good set');
    }
  }

  close(): void {
    clearTimeout(this.debounce);
    this.watcher?.close();
  }
}

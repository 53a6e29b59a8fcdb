/**
 * Static endpoint source: a YAML (or JSON) file listing the model-server endpoints, reloaded when
 * it changes. A file that stops parsing keeps the last good set (and says so in the log).
 *
 *   endpoints:
 *   - name: decode-0
 *     address: 10.0.0.7
 *     port: 8000
 *     labels: { llm-d.ai/role: decode }
 */
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import type { Logger } from '../../src/log.js';
import type { EndpointSpec, EndpointStore } from './store.js';

const EndpointEntry = z.strictObject({
  name: z.string().min(1),
  namespace: z.string().optional(),
  address: z.string().min(1),
  port: z.number().int().min(1).max(65535),
  labels: z.record(z.string(), z.string()).optional(),
  metricsPort: z.number().int().min(1).max(65535).optional(),
});

const EndpointsFile = z.strictObject({ endpoints: z.array(EndpointEntry) });

/** Parses the file text; throws an Error naming the bad entry. */
export function parseEndpointsFile(text: string): EndpointSpec[] {
  const result = EndpointsFile.safeParse(parse(text) ?? { endpoints: [] });
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new Error(`${issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '')}: ${issue.message}`);
  }
  const names = new Set<string>();
  return result.data.endpoints.map((entry, i) => {
    if (names.has(entry.name)) throw new Error(`endpoints[${i}].name: duplicate endpoint name "${entry.name}"`);
    names.add(entry.name);
    const metricsHost = entry.metricsPort ? `${entry.address.includes(':') ? `[${entry.address}]` : entry.address}:${entry.metricsPort}` : undefined;
    return { name: entry.name, namespace: entry.namespace, address: entry.address, port: entry.port, labels: entry.labels, metricsHost };
  });
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
    this.store.replaceAll(parseEndpointsFile(readFileSync(this.path, 'utf8')));
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
      this.store.replaceAll(parseEndpointsFile(readFileSync(this.path, 'utf8')));
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

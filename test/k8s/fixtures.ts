/** Builders for Kubernetes objects and a bounded poll, shared by the k8s test suites. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { afterAll, beforeAll } from 'vitest';
import { FakeKubeApiServer, type KubeObject } from '../helpers/fake-kube-apiserver.js';
import { poll } from '../helpers/poll.js';

export const silentLogger: Logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

/** Fast retries so outage tests converge well inside the poll bound. */
export const TEST_BACKOFF = { initialMs: 50, maxMs: 300 };

export interface PodInit {
  name: string;
  ip?: string;
  ready?: boolean;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  namespace?: string;
  deleting?: boolean;
}

export function pod(init: PodInit): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: init.name,
      namespace: init.namespace ?? 'llm',
      labels: init.labels ?? { app: 'vllm', 'llm-d.ai/role': 'decode' },
      ...(init.annotations ? { annotations: init.annotations } : {}),
      ...(init.deleting ? { deletionTimestamp: new Date().toISOString() } : {}),
    },
    spec: { containers: [{ name: 'vllm', image: 'vllm/vllm-openai' }] },
    status: {
      phase: 'Running',
      ...(init.ip ? { podIP: init.ip, podIPs: [{ ip: init.ip }] } : {}),
      conditions: [{ type: 'Ready', status: init.ready === false ? 'False' : 'True' }],
    },
  };
}

export function poolV1(name: string, matchLabels: Record<string, string>, ports: number[], namespace = 'llm'): KubeObject {
  return {
    apiVersion: 'inference.networking.k8s.io/v1',
    kind: 'InferencePool',
    metadata: { name, namespace },
    spec: {
      selector: { matchLabels },
      targetPorts: ports.map((number) => ({ number })),
      endpointPickerRef: { name: `${name}-epp`, port: { number: 9002 } },
    },
  };
}

export function poolV1alpha2(name: string, selector: Record<string, string>, port: number, namespace = 'llm'): KubeObject {
  return {
    apiVersion: 'inference.networking.x-k8s.io/v1alpha2',
    kind: 'InferencePool',
    metadata: { name, namespace },
    spec: { selector, targetPortNumber: port, extensionRef: { name: `${name}-epp` } },
  };
}

/** Polls until `check` returns a value other than undefined/false, or fails after `timeoutMs`. */
export function waitFor<T>(what: string, check: () => T | undefined | false, timeoutMs = 5_000): Promise<T> {
  return poll(check, { what, timeoutMs, intervalMs: 10 });
}

export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'pd-router-k8s-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A real (small) Kubernetes API server for the enclosing suite, and a kubeconfig pointing at it. */
export interface FakeKube {
  readonly api: FakeKubeApiServer;
  readonly kubeconfig: string;
}

/** Starts the API server in beforeAll and stops it (removing the kubeconfig) in afterAll. */
export function useFakeKubeApi(): FakeKube {
  const kube = {} as { api: FakeKubeApiServer; kubeconfig: string };
  let cleanup = (): void => undefined;
  beforeAll(async () => {
    kube.api = await FakeKubeApiServer.start();
    const tmp = tempDir();
    cleanup = tmp.cleanup;
    kube.kubeconfig = kube.api.writeKubeconfig(tmp.dir);
  });
  afterAll(async () => {
    await kube.api?.close();
    cleanup();
  });
  return kube;
}

/**
 * Where the Kubernetes API is: `--kubeconfig <file>`, then `KUBECONFIG`, then the in-cluster
 * service account, then `~/.kube/config` — controller-runtime's order, so a pod with a stray
 * kubeconfig mounted still prefers an explicit flag and otherwise its own service account.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';

export interface KubeConfigOptions {
  /** `--kubeconfig`; wins over everything else. */
  kubeconfig?: string;
  /** The environment to read (`KUBECONFIG`, `KUBERNETES_SERVICE_HOST`); defaults to process.env. */
  env?: NodeJS.ProcessEnv;
}

/** Where the service-account token lives inside a pod. */
const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/** Loads the client configuration; throws a message that says what was tried. */
export function loadKubeConfig(options: KubeConfigOptions = {}): KubeConfig {
  const env = options.env ?? process.env;
  const kc = new KubeConfig();
  if (options.kubeconfig) {
    if (!existsSync(options.kubeconfig)) throw new Error(`--kubeconfig ${options.kubeconfig}: no such file`);
    kc.loadFromFile(options.kubeconfig);
    return requireCluster(kc, `--kubeconfig ${options.kubeconfig}`);
  }
  if (env.KUBECONFIG) {
    // KUBECONFIG may list several files (':'-separated); the client merges them.
    kc.loadFromDefault();
    return requireCluster(kc, `KUBECONFIG=${env.KUBECONFIG}`);
  }
  if (env.KUBERNETES_SERVICE_HOST && existsSync(SERVICE_ACCOUNT_TOKEN)) {
    kc.loadFromCluster();
    return requireCluster(kc, 'the in-cluster service account');
  }
  const home = join(homedir(), '.kube', 'config');
  if (existsSync(home)) {
    kc.loadFromFile(home);
    return requireCluster(kc, home);
  }
  throw new Error('no Kubernetes configuration: pass --kubeconfig, set KUBECONFIG, or run in a pod with a service account');
}

function requireCluster(kc: KubeConfig, from: string): KubeConfig {
  if (!kc.getCurrentCluster()) throw new Error(`${from}: the current context names no cluster`);
  return kc;
}

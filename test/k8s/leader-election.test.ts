/** Lease-based leader election between real clients over HTTP (short periods to stay fast). */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadKubeConfig } from '../../src/k8s/kubeconfig.js';
import { LeaderElector, eppLeaseName } from '../../src/k8s/leader-election.js';
import { silentLogger, waitFor, useFakeKubeApi } from './fixtures.js';

const kube = useFakeKubeApi();
const electors: LeaderElector[] = [];
afterEach(async () => {
  await Promise.all(electors.splice(0).map((elector) => elector.close()));
});

function elector(leaseName: string, identity: string): LeaderElector {
  const e = new LeaderElector({
    kubeConfig: loadKubeConfig({ kubeconfig: kube.kubeconfig }), namespace: 'llm', leaseName, identity,
    leaseDurationMs: 2_000, renewDeadlineMs: 1_000, retryPeriodMs: 150, logger: silentLogger,
  });
  electors.push(e);
  e.start();
  return e;
}

const holder = (lease: string): unknown => (kube.api.get('coordination.k8s.io/v1', 'Lease', 'llm', lease)?.spec as { holderIdentity?: string } | undefined)?.holderIdentity;

describe('LeaderElector', () => {
  it('names the EPP Lease as upstream does', () => {
    expect(eppLeaseName('llm', 'qwen-pool')).toBe('epp-llm-qwen-pool.llm-d.ai');
  });

  it('elects exactly one of two candidates; closing the leader hands over at once', async () => {
    const lease = eppLeaseName('llm', 'two');
    const a = elector(lease, 'a');
    const b = elector(lease, 'b');
    const transitions: string[] = [];
    a.onChange((leader) => transitions.push(`a:${leader}`));
    b.onChange((leader) => transitions.push(`b:${leader}`));
    const first = await waitFor('a leader', () => (a.isLeader() ? a : b.isLeader() ? b : undefined));
    const second = first === a ? b : a;
    // Stable: several retry periods later there is still exactly one leader.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect([a.isLeader(), b.isLeader()].filter(Boolean)).toHaveLength(1);
    expect(holder(lease)).toBe(first.identity);

    await first.close();
    expect(first.isLeader()).toBe(false);
    // Released, not left to expire: once close() resolves the Lease no longer names the old leader
    // (it is empty, or the follower already holds it) — no clock involved.
    expect(holder(lease)).not.toBe(first.identity);
    await waitFor('the follower takes over', () => second.isLeader());
    expect(holder(lease)).toBe(second.identity);
    expect(transitions).toContain(`${first.identity}:false`);
  });

  it('waits out a Lease held by someone else, then takes it over', async () => {
    const lease = 'held-by-ghost';
    kube.api.apply({
      apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: lease, namespace: 'llm' },
      spec: { holderIdentity: 'ghost', leaseDurationSeconds: 1, renewTime: new Date().toISOString(), leaseTransitions: 3 },
    });
    const c = elector(lease, 'c');
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(c.isLeader()).toBe(false);
    await waitFor('expired ghost lease taken over', () => c.isLeader());
    const spec = kube.api.get('coordination.k8s.io/v1', 'Lease', 'llm', lease)?.spec as { holderIdentity: string; leaseTransitions: number; leaseDurationSeconds: number; renewTime: string };
    expect(spec).toMatchObject({ holderIdentity: 'c', leaseTransitions: 4, leaseDurationSeconds: 2 });
    expect(spec.renewTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  });

  it('a leader that cannot reach the API server steps down, and leads again once it can', async () => {
    const d = elector('outage', 'd');
    await waitFor('leader', () => d.isLeader());
    await kube.api.stop();
    try {
      await waitFor('stepped down', () => !d.isLeader());
    } finally {
      await kube.api.restart();
    }
    await waitFor('leader again', () => d.isLeader());
  });
});

/**
 * Leader election over a `coordination.k8s.io/v1` Lease, client-go's algorithm in small: every
 * retry period a candidate reads the Lease and takes it when it is free, expired (judged by the
 * local clock from when this candidate last saw it change, so clock skew between replicas does
 * not matter) or already its own; writes use the Lease's resourceVersion, so two candidates can
 * never both win. A leader that cannot renew for `renewDeadline` steps down. `close()` releases a
 * held Lease (empty holder) so a follower takes over on its next retry instead of waiting out
 * the lease duration.
 *
 * The EPP's Lease is `epp-<namespace>-<pool>.llm-d.ai` in the pool namespace (upstream's name).
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import type { Logger } from '../log.js';
import { abortable, statusOf } from './reflector.js';

export function eppLeaseName(namespace: string, poolName: string): string {
  return `epp-${namespace}-${poolName}.llm-d.ai`;
}

export interface LeaderElectionOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  leaseName: string;
  /** Unique per candidate; default `<hostname>_<uuid>` (client-go's form). */
  identity?: string;
  /** How long a Lease is valid without renewal (client-go default 15 s). */
  leaseDurationMs?: number;
  /** A leader that has not renewed for this long steps down (default 10 s). */
  renewDeadlineMs?: number;
  /** Time between attempts (default 2 s). */
  retryPeriodMs?: number;
  logger: Logger;
}

export type LeadershipListener = (leader: boolean) => void;

export class LeaderElector {
  readonly identity: string;
  private readonly options: LeaderElectionOptions;
  private readonly api: CoordinationV1Api;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly listeners = new Set<LeadershipListener>();
  private leader = false;
  private lastRenew = 0;
  private observedRecord = '';
  private observedAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private readonly abort = new AbortController();
  private closed = false;

  constructor(options: LeaderElectionOptions) {
    this.options = options;
    this.identity = options.identity ?? `${hostname()}_${randomUUID()}`;
    this.api = options.kubeConfig.makeApiClient(CoordinationV1Api);
    this.leaseDurationMs = options.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = options.retryPeriodMs ?? 2_000;
    if (!(this.leaseDurationMs > this.renewDeadlineMs && this.renewDeadlineMs > this.retryPeriodMs)) {
      throw new Error('leader election needs leaseDuration > renewDeadline > retryPeriod');
    }
  }

  isLeader(): boolean {
    return this.leader;
  }

  /** Subscribes to leadership changes; returns the unsubscribe function. */
  onChange(listener: LeadershipListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  start(): void {
    if (this.timer || this.inFlight || this.closed) return;
    this.tick();
  }

  /** Stops campaigning and, when leading, releases the Lease. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    await this.inFlight?.catch(() => undefined);
    if (this.leader) {
      this.setLeader(false);
      try {
        await this.release();
      } catch (err) {
        this.options.logger.warn({ lease: this.options.leaseName, err: (err as Error).message }, 'could not release the leader Lease; it expires on its own');
      }
    }
    this.abort.abort();
    this.listeners.clear();
  }

  private tick(): void {
    this.inFlight = this.attempt().finally(() => {
      this.inFlight = undefined;
      if (this.closed) return;
      // Jitter (up to +20 %) keeps followers from retrying in lockstep.
      this.timer = setTimeout(() => this.tick(), this.retryPeriodMs * (1 + Math.random() * 0.2));
    });
  }

  private async attempt(): Promise<void> {
    const { logger, leaseName } = this.options;
    let acquired = false;
    try {
      acquired = await this.tryAcquireOrRenew();
    } catch (err) {
      logger.debug({ lease: leaseName, err: (err as Error).message, status: statusOf(err) }, 'leader election attempt failed');
    }
    if (this.closed) return;
    if (acquired) {
      this.lastRenew = Date.now();
      if (!this.leader) {
        logger.info({ lease: leaseName, identity: this.identity }, 'became the leader');
        this.setLeader(true);
      }
    } else if (this.leader && Date.now() - this.lastRenew > this.renewDeadlineMs) {
      logger.warn({ lease: leaseName, identity: this.identity }, 'could not renew the leader Lease in time; stepping down');
      this.setLeader(false);
    }
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, leaseName: name } = this.options;
    const opts = abortable(AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.retryPeriodMs)]));
    const now = new V1MicroTime();
    const durationSeconds = Math.max(1, Math.round(this.leaseDurationMs / 1000));
    let lease: V1Lease;
    try {
      lease = await this.api.readNamespacedLease({ name, namespace }, opts);
    } catch (err) {
      if (statusOf(err) !== 404) throw err;
      await this.api.createNamespacedLease({
        namespace,
        body: { metadata: { name, namespace }, spec: { holderIdentity: this.identity, leaseDurationSeconds: durationSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 } },
      }, opts).catch((createErr: unknown) => {
        if (statusOf(createErr) === 409) throw new Error('another candidate created the Lease first');
        throw createErr;
      });
      return true;
    }
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    const record = `${holder}|${String(spec.renewTime ?? '')}|${spec.leaseDurationSeconds ?? ''}`;
    if (record !== this.observedRecord) {
      this.observedRecord = record;
      this.observedAt = Date.now();
    }
    const validForMs = (spec.leaseDurationSeconds ?? 0) * 1000;
    if (holder && holder !== this.identity && Date.now() < this.observedAt + validForMs) return false;
    const body: V1Lease = {
      ...lease,
      spec: {
        ...spec,
        holderIdentity: this.identity,
        leaseDurationSeconds: durationSeconds,
        renewTime: now,
        acquireTime: holder === this.identity ? spec.acquireTime : now,
        leaseTransitions: holder === this.identity ? spec.leaseTransitions ?? 0 : (spec.leaseTransitions ?? 0) + 1,
      },
    };
    await this.api.replaceNamespacedLease({ name, namespace, body }, opts);
    return true;
  }

  private async release(): Promise<void> {
    const { namespace, leaseName: name } = this.options;
    // Bounded by the renew deadline (not the short retry period): a slow API server should still
    // see the release, since a follower otherwise waits out the whole lease duration.
    const opts = abortable(AbortSignal.timeout(this.renewDeadlineMs));
    const lease = await this.api.readNamespacedLease({ name, namespace }, opts);
    if (lease.spec?.holderIdentity !== this.identity) return;
    const now = new V1MicroTime();
    await this.api.replaceNamespacedLease({
      name, namespace,
      body: { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: now, acquireTime: now } },
    }, opts);
    this.options.logger.info({ lease: name, identity: this.identity }, 'released the leader Lease');
  }

  private setLeader(leader: boolean): void {
    if (this.leader === leader) return;
    this.leader = leader;
    for (const listener of this.listeners) listener(leader);
  }
}

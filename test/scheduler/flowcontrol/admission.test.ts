import { describe, expect, it } from 'vitest';
import { FlowControlAdmission } from '../../../scheduler/flowcontrol/admission.js';
import { ProbabilisticAdmitter } from '../../../scheduler/flowcontrol/admitter.js';
import { parseFlowControlConfig } from '../../../scheduler/flowcontrol/config.js';
import { FLOW_CONTROL_FACTORIES } from '../../../scheduler/flowcontrol/plugins.js';
import type { AdmitResult } from '../../../scheduler/flowcontrol/types.js';
import { chatRequest, makeEndpoint, makeHandle } from '../helpers.js';
import { ManualClock } from './manual-clock.js';

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('FlowControlAdmission', () => {
  it('from the parsed section: the critical objective overtakes queued sheddable traffic', async () => {
    const clock = new ManualClock();
    const detector = FLOW_CONTROL_FACTORIES.get('concurrency-detector')!('c', { maxConcurrency: 1 }, makeHandle());
    const settings = parseFlowControlConfig({ saturationDetector: { pluginRef: 'c' } }, (name) => (name === 'c' ? detector : undefined));
    const endpoints = [makeEndpoint({ name: 'e0' })];
    const admission = new FlowControlAdmission({
      endpoints: () => endpoints, flowControl: settings, clock,
      objectives: (name) => ({ critical: 10, batch: -1 } as Record<string, number | undefined>)[name],
    });
    const first = await admission.admit(chatRequest('x'));
    if (!first.admitted) throw new Error('first request must pass');
    const order: string[] = [];
    const queue = (objective: string, id: string) => void admission.admit(chatRequest('x', { headers: { 'x-llm-d-inference-objective': objective } }))
      .then((r: AdmitResult) => { order.push(id); if (r.admitted) r.ticket.release(); });
    queue('batch', 'batch-1');
    queue('critical', 'critical-1');
    await settle();
    expect(order).toEqual([]);
    first.ticket.release({ promptTokens: 10, completionTokens: 5 });
    for (let i = 0; i < 4; i++) await settle();
    expect(order).toEqual(['critical-1', 'batch-1']);
    admission.close();
  });

  it('priorityOf: the objective\'s priority, 0 when unknown, unnamed or malformed (admit answers 400 then)', () => {
    const admission = new FlowControlAdmission({ endpoints: () => [], objectives: (name) => (name === 'critical' ? 10 : undefined) });
    const withObjective = (value: string) => chatRequest('x', { headers: { 'x-llm-d-inference-objective': value } });
    expect(admission.priorityOf(withObjective('critical'))).toBe(10);
    expect(admission.priorityOf(withObjective('other'))).toBe(0);
    expect(admission.priorityOf(chatRequest('x'))).toBe(0);
    expect(admission.priorityOf(withObjective('bad value'))).toBe(0);
  });

  it('without the gate: only the admitter gates, and only sheddable requests; bad headers are 400s', async () => {
    const busy = makeEndpoint({ name: 'busy', metrics: { waitingQueueSize: 50, updatedAt: 1 } });
    const admission = new FlowControlAdmission({
      endpoints: () => [busy],
      objectives: (name) => (name === 'batch' ? -1 : undefined),
      admitter: new ProbabilisticAdmitter('a'),
    });
    expect(admission.controller).toBeUndefined();
    expect((await admission.admit(chatRequest('x'))).admitted).toBe(true);
    expect(await admission.admit(chatRequest('x', { headers: { 'x-llm-d-inference-objective': 'batch' } })))
      .toMatchObject({ admitted: false, status: 429, droppedReason: 'rejected-saturated' });
    await expect(admission.admit(chatRequest('x', { headers: { 'x-llm-d-inference-fairness-id': 'a b' } }))).rejects.toMatchObject({ status: 400 });
  });
});

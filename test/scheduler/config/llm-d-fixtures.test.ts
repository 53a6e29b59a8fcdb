/**
 * Every EndpointPickerConfig llm-d Router ships (copied under test/fixtures/llm-d-configs/) is
 * loaded with our loader and, when it loads, routes one real request to a simulator.
 *
 * `KNOWN_FAILURES` lists the fixtures that do not load yet, with the reason and the error they
 * fail with today; when one starts loading (or fails differently) the test turns red until the
 * table is updated.
 * The table in docs/llm-d-compat.md mirrors this file.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEndpointPickerConfig } from '../../../scheduler/config/loader.js';
import { SchedulingContext } from '../../../scheduler/framework/cycle-state.js';
import type { Endpoint } from '../../../scheduler/framework/endpoint.js';
import { createDefaultRegistry } from '../../../scheduler/plugins/index.js';
import { DATA_PARALLEL_HEADER } from '../../../src/wire/headers.js';
import { startCli, type RunningProcess } from '../../helpers/processes.js';
import { chatRequest, makeEndpoint, silentLogger } from '../helpers.js';

const DIR = fileURLToPath(new URL('../../fixtures/llm-d-configs/', import.meta.url));
const MODEL = 'fixture-model';

/**
 * Fixture → why it does not load yet, and the text of the first error our loader reports (so a
 * fixture failing for a new reason, or starting to load, turns this test red).
 */
const KNOWN_FAILURES: Readonly<Record<string, { reason: string; error: string }>> = {
};

/** Upstream's samples, plus our non-P/D example config (llm-d v1.0's default routing). */
const OUR_CONFIGS: Readonly<Record<string, string>> = {
  'config/sticky-until-saturated-epp-config.yaml': fileURLToPath(new URL('../../../config/sticky-until-saturated-epp-config.yaml', import.meta.url)),
};
const fixtures = [...readdirSync(DIR).filter((f) => f.endsWith('.yaml')).sort(), ...Object.keys(OUR_CONFIGS)];

let sim: RunningProcess;
let endpoints: Endpoint[];

beforeAll(async () => {
  sim = await startCli(['sim', '--port', '0', '--host', '127.0.0.1', '--model', MODEL, '--max-model-len', '32768']);
  // One simulator stands behind every role, so P/D and E/P/D profiles all find a candidate.
  endpoints = ['decode', 'prefill', 'encode'].map((role) => makeEndpoint({
    name: `${role}-0`, address: '127.0.0.1', port: sim.port, role, labels: { zone: 'a' },
  }));
});

afterAll(async () => {
  await sim?.stop();
});

async function loadAndRoute(file: string): Promise<number> {
  const loaded = loadEndpointPickerConfig(readFileSync(OUR_CONFIGS[file] ?? `${DIR}${file}`, 'utf8'), {
    registry: createDefaultRegistry(), logger: silentLogger, endpoints: () => endpoints,
  });
  try {
    const request = chatRequest('hello from an llm-d config', { model: MODEL });
    const ctx = new SchedulingContext(endpoints, silentLogger);
    for (const producer of loaded.producers) await producer.produce(ctx, request, endpoints);
    const result = await loaded.scheduler.schedule(ctx, request);
    const target = result.profileResults.get(result.primaryProfileName)?.targets[0];
    expect(target).toBeDefined();
    // data-parallel-profile-handler sends to the pod's primary port and names the rank in a header;
    // the pod's sidecar would forward there, so the test does.
    const hostPort = request.headers.get(DATA_PARALLEL_HEADER) ?? target!.hostPort;
    const response = await fetch(`http://${hostPort}${request.path}`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: request.rawBody.buffer(),
    });
    await response.arrayBuffer();
    return response.status;
  } finally {
    await loaded.close();
  }
}

describe('llm-d Router sample configs', () => {
  it('every known failure names an existing fixture', () => {
    for (const name of Object.keys(KNOWN_FAILURES)) expect(fixtures).toContain(name);
  });

  for (const file of fixtures) {
    const known = KNOWN_FAILURES[file];
    if (known) {
      it(`${file} does not load yet: ${known.reason}`, async () => {
        await expect(loadAndRoute(file)).rejects.toThrow(known.error);
      });
    } else {
      it(`${file} loads and routes a request to the simulator`, async () => {
        expect(await loadAndRoute(file)).toBe(200);
      });
    }
  }
});

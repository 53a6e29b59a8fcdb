/**
 * "Walking one request": which project files one P/D request passes through, in order, from the
 * EPP's front door to the sims, all in this process. Two front doors:
 *   gateway  the EPP's built-in HTTP gateway → sidecar → prefill sim, decode sim;
 *   extproc  an Envoy-shaped client (bench/extproc-client.ts): the EPP's ext_proc request phase,
 *            then the request sent to the sidecar as Envoy would (the EPP's headers and body),
 *            then the sidecar's answer back through the ext_proc response phase.
 * Per front door: a warm-up request (lazy initialisation is not part of the walk), then the
 * measure of bench/walk-probe.ts (precise coverage for "files visited", a debugger for the
 * ordered walk and its "returns").
 *
 * The script imports only startSimulator, startSidecar, startEpp, createLogger and the ext_proc
 * protos, so it also runs on older trees: copy bench/request-walk.ts, bench/walk-probe.ts and
 * bench/extproc-client.ts into one and build it.
 *
 *   npm run build && node dist/bench/request-walk.js [gateway|extproc] [--steps]   (default: both;
 *   --steps prints the walk, one file per step)
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../src/log.js';
import { startSimulator, type RunningSimulator } from '../src/sim/simulator.js';
import { startSidecar } from '../sidecar/main.js';
import { startEpp } from '../scheduler/main.js';
import { envoyRoundTrip, extProcClient } from './extproc-client.js';
import { report, walkOne } from './walk-probe.js';

const FRONT_DOORS = ['gateway', 'extproc'] as const;
type FrontDoor = (typeof FRONT_DOORS)[number];
const chosen = process.argv.slice(2).filter((arg) => !arg.startsWith('--'));
for (const arg of chosen) if (!(FRONT_DOORS as readonly string[]).includes(arg)) throw new Error(`unknown front door ${arg}: gateway or extproc`);
const frontDoors: readonly FrontDoor[] = chosen.length > 0 ? chosen as FrontDoor[] : FRONT_DOORS;

const PATH = '/v1/chat/completions';
const BODY = JSON.stringify({ model: 'walk-model', messages: [{ role: 'user', content: 'walk one request through the P/D path, please' }], max_tokens: 4 });
const silent = createLogger('walk', 'silent');

/** Every request disaggregated: prefill on the prefill pod, decode through the decode pod's sidecar. */
const CONFIG = `apiVersion: llm-d.ai/v1alpha1
kind: EndpointPickerConfig
plugins:
- type: prefix-cache-scorer
- type: queue-scorer
- type: max-score-picker
- type: prefill-filter
- type: decode-filter
- type: always-disagg-pd-decider
  name: decider
- type: disagg-profile-handler
  parameters:
    profiles: { decode: decode, prefill: prefill }
    deciders: { prefill: decider }
schedulingProfiles:
- name: prefill
  plugins: [{ pluginRef: prefill-filter }, { pluginRef: max-score-picker }, { pluginRef: prefix-cache-scorer }, { pluginRef: queue-scorer }]
- name: decode
  plugins: [{ pluginRef: decode-filter }, { pluginRef: max-score-picker }, { pluginRef: prefix-cache-scorer }, { pluginRef: queue-scorer }]
`;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'pd-router-walk-'));
  const sim = (role: 'prefill' | 'decode'): Promise<RunningSimulator> =>
    startSimulator({ model: 'walk-model', host: '127.0.0.1', port: 0, mode: 'echo', role, podIp: '127.0.0.1', podName: role }, { logger: silent });
  const prefill = await sim('prefill');
  const decode = await sim('decode');
  const sidecar = await startSidecar({ port: 0, host: '127.0.0.1', vllmPort: decode.port, secureProxy: false, podIp: '127.0.0.1' }, { logger: silent });
  const endpointsFile = join(dir, 'endpoints.json');
  writeFileSync(endpointsFile, JSON.stringify({ endpoints: [
    { name: 'prefill-0', address: '127.0.0.1', port: prefill.port, labels: { 'llm-d.ai/role': 'prefill' } },
    { name: 'decode-0', address: '127.0.0.1', port: sidecar.port, labels: { 'llm-d.ai/role': 'decode' } },
  ] }));
  // Metrics refresh far apart, so no scrape runs during the walk.
  const epp = await startEpp({
    configText: CONFIG, endpointsFile, host: '127.0.0.1', gatewayPort: 0, grpcPort: 0, grpcHealthPort: -1, metricsPort: -1,
    secureServing: false, refreshMetricsIntervalMs: 600_000,
  }, silent);
  const client = extProcClient(epp.ports.grpc!);
  const send: Record<FrontDoor, () => Promise<void>> = {
    gateway: async () => {
      const res = await fetch(`${epp.gatewayUrl!}${PATH}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: BODY });
      const text = await res.text();
      if (res.status !== 200) throw new Error(`gateway request failed: ${res.status} ${text}`);
    },
    extproc: async () => {
      const answer = await envoyRoundTrip(client, { path: PATH, body: Buffer.from(BODY) });
      if (answer.status !== 200) throw new Error(`ext_proc request failed: ${answer.status} ${answer.body.toString()}`);
    },
  };
  try {
    for (const frontDoor of frontDoors) {
      await send[frontDoor]();
      await send[frontDoor]();
      report(`${frontDoor} → sidecar → sims`, await walkOne(send[frontDoor]));
    }
  } finally {
    client.close();
    await epp.close();
    await sidecar.close(0);
    await prefill.close();
    await decode.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();

/**
 * EPP benchmark: scheduling latency with the P/D config (config/pd-epp-config.yaml) and a ~4 KB
 * chat body, for 2, 16 and 64 endpoints:
 *   - in-process: Director.handleRequest on an already-parsed request (the decision), and the
 *     parse of the body on its own;
 *   - over ext_proc: an Envoy-shaped exchange on one gRPC stream per request (headers, body with
 *     end_of_stream → HeadersResponse + body), client and server in one process, plaintext;
 *   - decisions/s on one core (sequential handleRequest);
 *   - the floor: a bare @grpc/grpc-js exchange of the same shape with no scheduling.
 *
 *   npm run build && node dist/bench/epp.js            (BENCH_CONFIG=<yaml> for another config)
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { loadEndpointPickerConfig } from '../scheduler/config/loader.js';
import { BodyBytes } from '../src/http/body-bytes.js';
import { EndpointStore } from '../scheduler/datalayer/store.js';
import { startExtProcServer } from '../scheduler/extproc/server.js';
import { loadProtos, type ProcessingRequest, type ProcessingResponse } from '../scheduler/extproc/proto.js';
import { Director } from '../scheduler/framework/director.js';
import { emptyMetrics } from '../scheduler/framework/endpoint.js';
import { createInferenceRequest } from '../scheduler/framework/request.js';
import { EppMetrics } from '../scheduler/metrics.js';
import { createDefaultRegistry } from '../scheduler/plugins/index.js';
import { parseInferenceBody } from '../src/openai/parse.js';
import { exchange, extProcClient } from './extproc-client.js';
import { quantile } from './stats.js';

/** BENCH_CONFIG=<file> benchmarks another EndpointPickerConfig (default: the P/D config). */
const CONFIG = readFileSync(process.env.BENCH_CONFIG ?? fileURLToPath(new URL('../../config/pd-epp-config.yaml', import.meta.url)), 'utf8');
const logger = pino({ level: 'silent' });

/** A ~4 KB chat body; `salt` makes each request's prefix distinct (uncached → P/D decisions). */
function chatBody(salt: number): string {
  const system = 'You are a helpful assistant that answers questions about history with care and precision. ';
  const user = `Request ${salt}: ${'Describe how the printing press changed the spread of knowledge in early modern Europe. '.repeat(42)}`;
  return JSON.stringify({ model: 'Qwen/Qwen3-0.6B', messages: [{ role: 'system', content: system }, { role: 'user', content: user }], max_tokens: 64, stream: true });
}


function stats(samples: number[]): { p50: number; p99: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  return { p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99) };
}

function makeDirector(endpointCount: number): Director {
  const store = new EndpointStore();
  const prefillCount = Math.max(1, Math.floor(endpointCount / 4));
  store.replaceAll(Array.from({ length: endpointCount }, (_, i) => ({
    name: `pod-${i}`, address: `10.0.${i >> 8}.${i & 255}`, port: 8000,
    labels: { 'llm-d.ai/role': i < prefillCount ? 'prefill' : 'decode' },
  })));
  for (const [i, endpoint] of store.list().entries()) {
    store.updateMetrics(endpoint.name, { ...emptyMetrics(), waitingQueueSize: (i * 7) % 5, runningRequestsSize: (i * 3) % 8, kvCacheUsagePercent: ((i * 13) % 10) / 10, cacheBlockSize: 16, cacheNumBlocks: 8192, updatedAt: Date.now() });
  }
  const metrics = new EppMetrics();
  const loaded = loadEndpointPickerConfig(CONFIG, { registry: createDefaultRegistry(), logger, metrics, endpoints: () => store.list() });
  return new Director({ scheduler: loaded.scheduler, endpoints: () => store.list(), producers: loaded.producers, preRequests: loaded.preRequests, responseCompletes: loaded.responseCompletes, logger, metrics });
}

async function inProcess(director: Director, iterations: number): Promise<{ decide: number[]; parse: number[]; perSecond: number }> {
  const decide: number[] = [];
  const parse: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const raw = Buffer.from(chatBody(i));
    const t0 = performance.now();
    const body = parseInferenceBody('chat_completions', raw);
    const t1 = performance.now();
    const request = createInferenceRequest({ id: `r${i}`, path: '/v1/chat/completions', headers: new Map(), body, rawBody: BodyBytes.of(raw) });
    const t2 = performance.now();
    await director.handleRequest(request);
    decide.push(performance.now() - t2);
    parse.push(t1 - t0);
    // Let work deferred off the request path (prefix-index updates) run, outside the timing.
    await new Promise((resolve) => setImmediate(resolve));
  }
  // Throughput: back-to-back decisions on pre-built requests.
  const requests = Array.from({ length: 2000 }, (_, i) => {
    const raw = Buffer.from(chatBody(iterations + i));
    return createInferenceRequest({ id: `t${i}`, path: '/v1/chat/completions', headers: new Map(), body: parseInferenceBody('chat_completions', raw), rawBody: BodyBytes.of(raw) });
  });
  // Throughput counts deferred work too: yield to the event loop after every decision.
  const started = performance.now();
  for (const request of requests) {
    await director.handleRequest(request);
    await new Promise((resolve) => setImmediate(resolve));
  }
  const perSecond = requests.length / ((performance.now() - started) / 1000);
  return { decide, parse, perSecond };
}

async function overGrpc(port: number, iterations: number): Promise<number[]> {
  const client = extProcClient(port);
  try {
    for (let i = 0; i < 200; i++) await exchange(client, Buffer.from(chatBody(1e6 + i))); // warm-up
    const samples: number[] = [];
    for (let i = 0; i < iterations; i++) {
      const body = Buffer.from(chatBody(2e6 + i));
      const t0 = performance.now();
      await exchange(client, body);
      samples.push(performance.now() - t0);
    }
    return samples;
  } finally {
    client.close();
  }
}

/** The floor: same stream shape, the server answers at body end with no parsing or scheduling. */
async function startFloorServer(): Promise<{ port: number; close(): Promise<void> }> {
  const server = new grpc.Server();
  server.addService(loadProtos().extProc, {
    Process(call: grpc.ServerDuplexStream<ProcessingRequest, ProcessingResponse>) {
      const chunks: Buffer[] = [];
      call.on('data', (message: ProcessingRequest) => {
        if (!message.request_body) return;
        chunks.push(Buffer.from(message.request_body.body ?? Buffer.alloc(0)));
        if (!message.request_body.end_of_stream) return;
        const body = Buffer.concat(chunks);
        call.write({ request_headers: { response: { clear_route_cache: true, header_mutation: { set_headers: [{ header: { key: 'x-gateway-destination-endpoint', raw_value: Buffer.from('10.0.0.1:8000') }, append_action: 2 }] } } } });
        call.write({ request_body: { response: { body_mutation: { streamed_response: { body, end_of_stream: true } } } } });
      });
      call.on('end', () => call.end());
      call.on('error', () => undefined);
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  return { port, close: () => new Promise((resolve) => server.tryShutdown(() => resolve())) };
}

const fmt = (ms: number): string => ms.toFixed(3);

async function main(): Promise<void> {
  const inProcessIterations = Number(process.env.BENCH_ITERATIONS ?? 20000);
  const grpcIterations = Number(process.env.BENCH_GRPC_ITERATIONS ?? 3000);
  const floor = await startFloorServer();
  const floorSamples = stats(await overGrpc(floor.port, grpcIterations));
  await floor.close();
  const rows: string[] = [];
  for (const endpointCount of [2, 16, 64]) {
    const director = makeDirector(endpointCount);
    await inProcess(director, 2000); // warm-up (JIT)
    const local = await inProcess(director, inProcessIterations);
    const server = await startExtProcServer({ director, endpoints: () => [], port: 0, host: '127.0.0.1', secure: false, logger });
    const remote = stats(await overGrpc(server.port, grpcIterations));
    await server.close();
    const decide = stats(local.decide);
    const parse = stats(local.parse);
    rows.push(`| ${endpointCount} | ${fmt(decide.p50)} | ${fmt(decide.p99)} | ${fmt(parse.p50)} | ${Math.round(local.perSecond)} | ${fmt(remote.p50)} | ${fmt(remote.p99)} | ${fmt(remote.p50 - floorSamples.p50)} |`);
    process.stderr.write(`  ${endpointCount} endpoints done\n`);
  }
  console.log(`\nEPP benchmark — P/D config, ~4 KB chat body, node ${process.version} (${new Date().toISOString()})\n`);
  console.log('| endpoints | decision p50 ms | decision p99 ms | parse p50 ms | decisions/s (1 core) | ext_proc p50 ms | ext_proc p99 ms | ext_proc p50 − floor ms |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const row of rows) console.log(row);
  console.log(`\nFloor (bare @grpc/grpc-js exchange, same shape, no scheduling): p50 ${fmt(floorSamples.p50)} ms, p99 ${fmt(floorSamples.p99)} ms`);
  console.log('Targets at 16 endpoints: decision ≤ 0.1 ms p50; ext_proc within 0.2 ms p50 of the floor.');
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

/**
 * `npm start`: the local P/D demo. One prefill sim, N decode sims each behind a sidecar, and the
 * EPP (HTTP gateway + ext_proc) with the P/D config, all on 127.0.0.1. Prints how to send requests,
 * which pods served each one (P/D or decode-only, and the decider's reason), and where traces go;
 * Ctrl-C stops everything.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DemoConfig } from './demo-config.js';
import { ChildExitError, startChild, type ChildService, type LogLine } from './demo-stack.js';

const EPP_CONFIG = fileURLToPath(new URL('../../config/pd-epp-config.yaml', import.meta.url));

/**
 * The step engine (docs/simulator.md, "Step engine"): H200 + Llama-3.1-8B roofline step times with
 * continuous batching, so a long prefill on a decode pod slows the requests decoding there. The
 * prefill sim holds a prompt's blocks until the decode sim pulls them (its pull notice goes to the
 * `remote_host:remote_port` of the prefill answer: POD_IP and the prefill sim's own port); the short
 * --kv-transfer-timeout only frees legs nobody pulls (a failed or abandoned decode leg), so they do
 * not pin the small KV cache for the default 60 s.
 */
function simArgs(model: string, role: 'prefill' | 'decode'): string[] {
  return [
    'sim', '--port', '0', '--host', '127.0.0.1', '--model', model, '--role', role,
    '--engine-model', 'step', '--hardware', 'h200', '--model-profile', 'llama-3.1-8b', '--kv-transfer-timeout', '2s',
    '--max-model-len', '32768', '--max-num-seqs', '16', '--enable-kvcache', '--kv-cache-size', '8192', '--block-size', '16',
    // The demo's EPP estimates prefixes itself (approximate); no KV-event consumer listens.
    '--zmq-endpoint', '',
  ];
}

const portOf = (lines: LogLine[]): number => Number(lines[0]!.port);

function print(text = ''): void {
  process.stdout.write(`${text}\n`);
}

export async function runDemo(config: DemoConfig): Promise<void> {
  const services: ChildService[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'pd-router-demo-'));
  const names = new Map<string, string>();
  const routed: Array<(line: LogLine) => void> = [];
  let stopping = false;
  const stopAll = async (): Promise<void> => {
    stopping = true;
    await Promise.all([...services].reverse().map((service) => service.stop()));
    rmSync(dir, { recursive: true, force: true });
  };
  const onSignal = (): void => {
    if (stopping) return;
    print('\nstopping the demo stack…');
    void stopAll().then(() => process.exit(0));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    // Children log at info: the demo reads their `listening` lines and relays their errors and
    // anything they print that is not a log record (e.g. OTEL_TRACES_EXPORTER=console spans).
    const simEnv = { POD_IP: '127.0.0.1', LOG_LEVEL: 'info' };
    const prefill = startChild('prefill-0', simArgs(config.model, 'prefill'), { env: simEnv });
    const decodes = Array.from({ length: config.decodePods }, (_, i) => startChild(`decode-sim-${i}`, simArgs(config.model, 'decode'), { env: simEnv }));
    services.push(prefill, ...decodes);
    const prefillPort = portOf(await prefill.ready);
    const decodePorts = await Promise.all(decodes.map(async (sim) => portOf(await sim.ready)));

    const sidecars = decodePorts.map((vllmPort, i) => startChild(`decode-${i}`, [
      'sidecar', '--port', '0', '--host', '127.0.0.1', '--vllm-host', '127.0.0.1', '--vllm-port', String(vllmPort), '--secure-proxy=false', '--kv-connector', 'nixlv2',
    ], { env: { LOG_LEVEL: 'info', OTEL_SERVICE_NAME: process.env.OTEL_SERVICE_NAME ?? 'pd-router-sidecar' } }));
    services.push(...sidecars);
    const sidecarPorts = await Promise.all(sidecars.map(async (sidecar) => portOf(await sidecar.ready)));

    const endpoints = [
      { name: 'prefill-0', address: '127.0.0.1', port: prefillPort, labels: { 'llm-d.ai/role': 'prefill' } },
      ...sidecarPorts.map((port, i) => ({ name: `decode-${i}`, address: '127.0.0.1', port, labels: { 'llm-d.ai/role': 'decode' } })),
    ];
    for (const endpoint of endpoints) names.set(`${endpoint.address}:${endpoint.port}`, endpoint.name);
    const endpointsFile = join(dir, 'endpoints.yaml');
    writeFileSync(endpointsFile, JSON.stringify({ endpoints }, null, 2));

    const epp = startChild('epp', [
      'epp', '--config', EPP_CONFIG, '--endpoints', endpointsFile, '--host', '127.0.0.1',
      '--gateway-port', String(config.gatewayPort), '--grpc-port', String(config.grpcPort), '--secure-serving=false',
      '--grpc-health-port', '-1', '--metrics-port', String(config.metricsPort),
    ], {
      env: { LOG_LEVEL: 'debug', OTEL_SERVICE_NAME: process.env.OTEL_SERVICE_NAME ?? 'pd-router-epp' },
      listeners: 3,
      onLog: (line) => {
        // The per-request line, logged when the response ends (scheduler/frontdoor/lifecycle.ts).
        if (line.msg === 'request' || line.msg === 'request failed') for (const listener of routed) listener(line);
      },
    });
    services.push(epp);
    const eppListeners = await epp.ready.catch((err: unknown) => {
      throw new Error(`${err instanceof Error ? err.message : String(err)}${portAdvice(err, config)}`);
    });
    const gateway = eppListeners.find((l) => l.listener === 'gateway')!;
    const grpc = eppListeners.find((l) => l.listener === 'grpc')!;
    const metrics = eppListeners.find((l) => l.listener === 'metrics')!;
    const gatewayUrl = String(gateway.url);

    routed.push((line) => {
      const decode = line.decode === null || line.decode === undefined ? '-' : String(line.decode).split(',').map((hp) => names.get(hp) ?? hp).join(',');
      const prefillTarget = line.prefill ? names.get(String(line.prefill)) ?? String(line.prefill) : null;
      const route = prefillTarget ? `P/D prefill=${prefillTarget} → decode=${decode}` : `decode-only decode=${decode}`;
      const reason = line.pdReason === undefined ? '' : ` reason=${String(line.pdReason)}`;
      const tokens = line.promptTokens === undefined ? '' : `, ${String(line.promptTokens)} prompt tokens (${String(line.cachedTokens ?? 0)} cached)`;
      print(`  routed ${String(line.requestId)}: ${route}${reason} · HTTP ${String(line.status)} in ${String(line.totalMs)} ms${tokens}`);
    });

    print(banner(config, gatewayUrl, String(grpc.url), String(metrics.url), endpoints.map((e) => `${e.name} ${e.address}:${e.port} (${e.labels['llm-d.ai/role']})`)));
    if (config.smoke) {
      await smoke(gatewayUrl, config.model);
      await stopAll();
      return;
    }
    await new Promise<never>(() => undefined);
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** The demo flag that moves each EPP listener. */
const PORT_FLAGS = [['gatewayPort', '--gateway-port'], ['grpcPort', '--grpc-port'], ['metricsPort', '--metrics-port']] as const;

/** For "address already in use": which port, and the flag that picks another one. */
export function portAdvice(err: unknown, config: Pick<DemoConfig, 'gatewayPort' | 'grpcPort' | 'metricsPort'>): string {
  const output = err instanceof ChildExitError ? err.output.join('\n') : err instanceof Error ? err.message : String(err);
  const busy = /EADDRINUSE[^\n]*?:(\d+)\b/.exec(output);
  if (!busy) return '';
  const port = Number(busy[1]);
  const flag = PORT_FLAGS.find(([key]) => config[key] === port)?.[1];
  if (!flag) return `\nport ${port} is in use by another process.`;
  return `\nport ${port} is in use by another process: stop it, or pick another port, e.g.\n  npm start -- ${flag} ${port + 1}\n  (or: pd-router demo ${flag} ${port + 1})`;
}

function banner(config: DemoConfig, gatewayUrl: string, grpcUrl: string, metricsUrl: string, pods: string[]): string {
  const tracing = process.env.OTEL_EXPORTER_OTLP_ENDPOINT
    ? `traces → ${process.env.OTEL_EXPORTER_OTLP_ENDPOINT} (OTLP)`
    : 'traces are off. Start Jaeger (OTLP on 4317/4318, UI on 16686) and run:\n    OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4317 OTEL_TRACES_SAMPLER=always_on npm start\n  then open http://localhost:16686 (docs/tracing.md)';
  const long = 'Summarize the history of the printing press in detail. '.repeat(8).trim();
  return `
pd-router demo is up (model ${config.model})
  pods:
    ${pods.join('\n    ')}
  EPP: HTTP gateway ${gatewayUrl} · ext_proc ${grpcUrl} · metrics ${metricsUrl}
  ${tracing}

Send a short request (decode-only):
  curl -s ${gatewayUrl}/v1/chat/completions -H 'content-type: application/json' \\
    -d '{"model":"${config.model}","messages":[{"role":"user","content":"Hello!"}],"max_tokens":16}'

Send a long one (prefill pod + decode pod, handed off by the sidecar):
  curl -sN ${gatewayUrl}/v1/chat/completions -H 'content-type: application/json' \\
    -d '{"model":"${config.model}","stream":true,"messages":[{"role":"user","content":"${long}"}],"max_tokens":32}'

With the openai client:
  import OpenAI from 'openai';
  const client = new OpenAI({ baseURL: '${gatewayUrl}/v1', apiKey: 'unused' });
  const reply = await client.chat.completions.create({ model: '${config.model}', messages: [{ role: 'user', content: 'Hello!' }] });

Each request's routing is printed below. Ctrl-C stops everything.
`;
}

async function smoke(gatewayUrl: string, model: string): Promise<void> {
  const send = async (label: string, content: string): Promise<void> => {
    const response = await fetch(`${gatewayUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages: [{ role: 'user', content }], max_tokens: 8 }),
    });
    const body = (await response.json()) as { usage?: unknown; choices?: Array<{ message?: { content?: string } }> };
    print(`smoke ${label}: HTTP ${response.status} ${JSON.stringify(body.choices?.[0]?.message?.content ?? body)} usage=${JSON.stringify(body.usage)}`);
  };
  await send('short', 'Hello!');
  await send('long', 'Summarize the history of the printing press in detail. '.repeat(8));
  // Give the EPP's routing log lines a moment to arrive before the stack stops.
  await new Promise((resolve) => setTimeout(resolve, 200));
}

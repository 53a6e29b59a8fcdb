/**
 * Soak: many requests at high concurrency through the whole stack —
 *   client → EPP built-in gateway → decode sidecar → (prefill sim, then) decode sim
 * with a mix of P/D requests (long unique prompts: the prefix-based decider sends them to a
 * prefill pod first) and decode-only requests (short prompts), streamed and not. The EPP and the
 * sidecar run as their own `pd-router` child processes, so their RSS and open file descriptors
 * (/proc/<pid>/status, /proc/<pid>/fd) are theirs alone; the sims are children too. Everything
 * binds 127.0.0.1, port 0.
 *
 * Prints one table: RSS and open fds at idle (start), mid-run, end of load, 3 s later, and the
 * peak RSS seen by a 250 ms sampler, plus throughput and errors.
 *
 *   npm run build && node dist/bench/soak.js [--requests 20000] [--seconds 60] [--concurrency 64] \
 *     [--node-options "--max-semi-space-size=4"] [--sidecar-node-options ""]
 *
 * --node-options is passed as NODE_OPTIONS to the EPP and the sidecar (not to the sims).
 * The sidecar also gets --sidecar-node-options, by default the Node flags it ships with
 * (SIDECAR_NODE_FLAGS: the chart, `pd-router inject` and the Dockerfile); "" runs it without.
 * The run stops at whichever bound comes first (request count or seconds).
 */
import { readdirSync, readFileSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startChild, type ChildService } from '../src/demo-stack.js';
import { SIDECAR_NODE_FLAGS } from '../src/k8s/sidecar-container.js';

function flag(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  const value = at >= 0 ? Number(process.argv[at + 1]) : Number.NaN;
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

const maxRequests = flag('requests', 20_000);
const maxSeconds = flag('seconds', 60);
const concurrency = flag('concurrency', 64);
const MODEL = 'soak-model';
const nodeOptionsAt = process.argv.indexOf('--node-options');
const nodeOptions = nodeOptionsAt >= 0 ? (process.argv[nodeOptionsAt + 1] ?? '') : '';
const sidecarOptionsAt = process.argv.indexOf('--sidecar-node-options');
const sidecarNodeOptions = sidecarOptionsAt >= 0 ? (process.argv[sidecarOptionsAt + 1] ?? '') : SIDECAR_NODE_FLAGS.join(' ');
const PD_CONFIG = fileURLToPath(new URL('../../config/pd-epp-config.yaml', import.meta.url));

interface Sample {
  rssMb: number;
  fds: number;
  /** CPU time (user + system) used so far, seconds. */
  cpuS: number;
}

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ, 100 on Linux). */
const CLOCK_TICKS = 100;

function sample(pid: number): Sample {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
  // Fields after the parenthesised command name: utime and stime are the 12th and 13th.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuS = (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  return { rssMb: rssKb / 1024, fds: readdirSync(`/proc/${pid}/fd`).length, cpuS };
}

function simArgs(role: string): string[] {
  // Echo mode, zero latency: the soak loads the routers, not the model.
  return ['sim', '--port', '0', '--host', '127.0.0.1', '--model', MODEL, '--role', role, '--mode', 'echo', '--max-num-seqs', '4096', '--max-model-len', '65536'];
}

/** Request i: even → P/D (a long prompt no pod has cached), odd → decode-only (a short prompt); every third streams. */
function requestBody(i: number): string {
  const long = i % 2 === 0;
  const content = long ? `request ${i} ${Math.random()}: ${'the quick brown fox jumps over the lazy dog '.repeat(40)}` : `hi ${i % 10}`;
  return JSON.stringify({ model: MODEL, messages: [{ role: 'user', content }], max_tokens: 8, stream: i % 3 === 0 });
}

interface LoadResult {
  sent: number;
  ok: number;
  errors: Map<string, number>;
  seconds: number;
}

async function load(url: string, atMiddle: () => void): Promise<LoadResult> {
  const started = performance.now();
  const deadline = started + maxSeconds * 1000;
  const errors = new Map<string, number>();
  let next = 0;
  let ok = 0;
  let middleDone = false;
  const fail = (why: string): void => {
    errors.set(why, (errors.get(why) ?? 0) + 1);
  };
  const worker = async (): Promise<void> => {
    while (next < maxRequests && performance.now() < deadline) {
      const i = next++;
      if (!middleDone && (i >= maxRequests / 2 || performance.now() - started >= (maxSeconds * 1000) / 2)) {
        middleDone = true;
        atMiddle();
      }
      try {
        const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: requestBody(i), signal: AbortSignal.timeout(30_000) });
        const text = await response.text();
        if (response.status !== 200) fail(`HTTP ${response.status}`);
        else if (i % 3 === 0 ? !text.includes('data: [DONE]') : !text.includes('"choices"')) fail('bad body');
        else ok++;
      } catch (err) {
        fail(err instanceof Error ? `${err.name}: ${err.message}` : String(err));
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, () => worker()));
  return { sent: next, ok, errors, seconds: (performance.now() - started) / 1000 };
}

async function main(): Promise<void> {
  const services: ChildService[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'pd-soak-'));
  const env = { LOG_LEVEL: 'info', POD_IP: '127.0.0.1' };
  const routerEnv = { ...env, NODE_OPTIONS: [process.env.NODE_OPTIONS ?? '', nodeOptions].join(' ').trim() };
  const sidecarEnv = { ...env, NODE_OPTIONS: [routerEnv.NODE_OPTIONS, sidecarNodeOptions].join(' ').trim() };
  try {
    const prefill = startChild('prefill-sim', simArgs('prefill'), { env });
    const decode = startChild('decode-sim', simArgs('decode'), { env });
    services.push(prefill, decode);
    const prefillPort = Number((await prefill.ready)[0]!.port);
    const decodePort = Number((await decode.ready)[0]!.port);
    const sidecar = startChild('sidecar', ['sidecar', '--port', '0', '--host', '127.0.0.1', '--vllm-host', '127.0.0.1', '--vllm-port', String(decodePort), '--secure-proxy=false'], { env: sidecarEnv });
    services.push(sidecar);
    const sidecarPort = Number((await sidecar.ready)[0]!.port);
    const endpointsFile = join(dir, 'endpoints.yaml');
    writeFileSync(endpointsFile, JSON.stringify({
      endpoints: [
        { name: 'prefill-0', address: '127.0.0.1', port: prefillPort, labels: { 'llm-d.ai/role': 'prefill' } },
        { name: 'decode-0', address: '127.0.0.1', port: sidecarPort, labels: { 'llm-d.ai/role': 'decode' } },
      ],
    }));
    const epp = startChild('epp', [
      'epp', '--config', PD_CONFIG, '--endpoints', endpointsFile, '--host', '127.0.0.1',
      '--gateway-port', '0', '--grpc-port', '0', '--secure-serving=false', '--grpc-health-port', '-1', '--metrics-port', '0',
    ], { env: routerEnv, listeners: 3 });
    services.push(epp);
    const gateway = (await epp.ready).find((line) => line.listener === 'gateway');
    if (!gateway) throw new Error('EPP did not report its gateway listener');
    const url = `${String(gateway.url)}/v1/chat/completions`;

    const watched = { epp: epp.child.pid!, sidecar: sidecar.child.pid! };
    // Let start-up settle (lazy imports, first GC) before the idle sample.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const points: Array<{ at: string; epp: Sample; sidecar: Sample }> = [];
    const take = (at: string): void => {
      points.push({ at, epp: sample(watched.epp), sidecar: sample(watched.sidecar) });
    };
    take('start (idle)');
    const idle = points[0]!;
    const peak = { epp: 0, sidecar: 0 };
    const sampler = setInterval(() => {
      peak.epp = Math.max(peak.epp, sample(watched.epp).rssMb);
      peak.sidecar = Math.max(peak.sidecar, sample(watched.sidecar).rssMb);
    }, 250);
    process.stderr.write(`soak: ${maxRequests} requests or ${maxSeconds}s at concurrency ${concurrency} → ${url}\n`);
    const result = await load(url, () => take('middle'));
    take('end of load');
    const loaded = points[points.length - 1]!;
    clearInterval(sampler);
    await new Promise((resolve) => setTimeout(resolve, 3000));
    take('3 s after load');

    const fmt = (n: number): string => n.toFixed(1);
    console.log(`\nSoak — EPP gateway → sidecar → sims (P/D and decode-only mixed, 1/3 streamed), concurrency ${concurrency}, NODE_OPTIONS: EPP "${routerEnv.NODE_OPTIONS}", sidecar "${sidecarEnv.NODE_OPTIONS}" (${new Date().toISOString()})\n`);
    console.log(`requests ${result.sent}, ok ${result.ok}, errors ${result.sent - result.ok}, ${fmt(result.seconds)} s, ${(result.ok / result.seconds).toFixed(0)} req/s`);
    // CPU per request is steadier than req/s on a shared machine: it does not count time spent waiting for a core.
    const cpuPerK = (who: 'epp' | 'sidecar'): string => ((1000 * (loaded[who].cpuS - idle[who].cpuS)) / Math.max(1, result.sent)).toFixed(2);
    console.log(`CPU seconds per 1000 requests: EPP ${cpuPerK('epp')}, sidecar ${cpuPerK('sidecar')}\n`);
    console.log('| point | EPP RSS MB | EPP fds | sidecar RSS MB | sidecar fds |');
    console.log('|---|---|---|---|---|');
    for (const point of points) console.log(`| ${point.at} | ${fmt(point.epp.rssMb)} | ${point.epp.fds} | ${fmt(point.sidecar.rssMb)} | ${point.sidecar.fds} |`);
    console.log(`| peak during load | ${fmt(peak.epp)} | | ${fmt(peak.sidecar)} | |`);
    if (result.errors.size > 0) {
      console.log('\n| error | count |\n|---|---|');
      for (const [why, count] of result.errors) console.log(`| ${why} | ${count} |`);
    }
  } finally {
    await Promise.all(services.map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

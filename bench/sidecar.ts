/**
 * Sidecar benchmark: one table from one run.
 *   direct      wrk → sim
 *   nginx       wrk → nginx → sim            (reference pass-through proxy; skipped if absent)
 *   sidecar     wrk → sidecar → sim          (pass-through: no prefill header)
 *   sidecar P/D wrk → sidecar → prefill sim, then → decode sim (4 KB chat body)
 * at concurrency 1 and 64. P/D coordination overhead = total − prefill − decode upstream time,
 * estimated at c=1 from direct runs of exactly the prefill-leg and decode-leg requests.
 *
 *   npm run build && node dist/bench/sidecar.js [--seconds 10]
 */
import { startChild, type ChildService } from '../src/demo-stack.js';
import { nginxBinary, startNginx, type RunningNginx } from './nginx.js';
import { wrk, wrkAvailable, type WrkResult } from './wrk.js';

const seconds = Number(process.argv[process.argv.indexOf('--seconds') + 1] || 0) || 10;
const MODEL = 'bench-model';

function simArgs(): string[] {
  // Zero latency and echo mode: the bench measures the proxies, not the model.
  return ['sim', '--port', '0', '--host', '127.0.0.1', '--model', MODEL, '--mode', 'echo', '--max-num-seqs', '1024', '--max-model-len', '65536'];
}

const smallBody = JSON.stringify({ model: MODEL, prompt: 'Hello, world!', max_tokens: 2 });
const chatText = 'The quick brown fox jumps over the lazy dog. '.repeat(90); // ≈ 4 KB
const chatBody = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: chatText }], max_tokens: 2 });
const prefillLegBody = JSON.stringify({
  model: MODEL, messages: [{ role: 'user', content: chatText }], max_tokens: 1, max_completion_tokens: 1, stream: false,
  kv_transfer_params: { do_remote_decode: true, do_remote_prefill: false, remote_engine_id: null, remote_block_ids: null, remote_host: null, remote_port: null },
});
const decodeLegBody = JSON.stringify({
  model: MODEL, messages: [{ role: 'user', content: chatText }], max_tokens: 2,
  kv_transfer_params: { do_remote_decode: false, do_remote_prefill: true, remote_engine_id: 'DUMMY_ID', remote_block_ids: ['DUMMY_ID'], remote_host: 'DUMMY', remote_port: 1234, tp_size: 1 },
});

interface Row {
  target: string;
  concurrency: number;
  result: WrkResult;
}

const fmt = (n: number, digits = 2): string => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');

async function main(): Promise<void> {
  if (!(await wrkAvailable())) throw new Error('wrk is not installed (apt-get install wrk)');
  const services: ChildService[] = [];
  let nginx: RunningNginx | undefined;
  try {
    const decodeSim = startChild('decode-sim', simArgs(), { env: { LOG_LEVEL: 'info' } });
    const prefillSim = startChild('prefill-sim', simArgs(), { env: { LOG_LEVEL: 'info' } });
    services.push(decodeSim, prefillSim);
    const decodePort = Number((await decodeSim.ready)[0]!.port);
    const prefillPort = Number((await prefillSim.ready)[0]!.port);
    const sidecar = startChild('sidecar', ['sidecar', '--port', '0', '--host', '127.0.0.1', '--vllm-host', '127.0.0.1', '--vllm-port', String(decodePort), '--secure-proxy=false'], { env: { LOG_LEVEL: 'info' } });
    services.push(sidecar);
    const sidecarPort = Number((await sidecar.ready)[0]!.port);
    const nginxPath = nginxBinary();
    if (nginxPath) nginx = await startNginx(nginxPath, decodePort);

    const targets: Array<{ name: string; url: string; body: string; headers?: Record<string, string> }> = [
      { name: 'direct → sim', url: `http://127.0.0.1:${decodePort}/v1/completions`, body: smallBody },
      ...(nginx ? [{ name: 'nginx → sim', url: `http://127.0.0.1:${nginx.port}/v1/completions`, body: smallBody }] : []),
      { name: 'sidecar → sim (pass-through)', url: `http://127.0.0.1:${sidecarPort}/v1/completions`, body: smallBody },
      { name: 'sidecar P/D (4 KB chat)', url: `http://127.0.0.1:${sidecarPort}/v1/chat/completions`, body: chatBody, headers: { 'x-prefiller-host-port': `127.0.0.1:${prefillPort}` } },
      { name: 'prefill leg direct (4 KB)', url: `http://127.0.0.1:${prefillPort}/v1/chat/completions`, body: prefillLegBody },
      { name: 'decode leg direct (4 KB)', url: `http://127.0.0.1:${decodePort}/v1/chat/completions`, body: decodeLegBody },
    ];
    const rows: Row[] = [];
    for (const target of targets) {
      // Warm-up: connection pools, JIT.
      await wrk(target.url, { connections: 8, seconds: 1, body: target.body, headers: target.headers });
      for (const concurrency of [1, 64]) {
        if (target.name.includes('leg direct') && concurrency !== 1) continue;
        const result = await wrk(target.url, { connections: concurrency, seconds, body: target.body, headers: target.headers });
        rows.push({ target: target.name, concurrency, result });
        process.stderr.write(`  ${target.name} c=${concurrency}: p50 ${fmt(result.p50Ms, 3)} ms, ${fmt(result.requestsPerSecond, 0)} req/s\n`);
      }
    }

    const find = (name: string, c: number): WrkResult | undefined => rows.find((r) => r.target.startsWith(name) && r.concurrency === c)?.result;
    const direct1 = find('direct', 1)!;
    const nginx64 = find('nginx', 64);
    console.log(`\nSidecar benchmark — wrk -t1, ${seconds}s per cell, sim in echo mode with zero latency (${new Date().toISOString()})\n`);
    console.log('| target | c | p50 ms | p99 ms | req/s | p50 added vs direct | req/s vs nginx | errors |');
    console.log('|---|---|---|---|---|---|---|---|');
    for (const row of rows) {
      const added = row.target.startsWith('direct') || row.target.includes('leg direct') || row.target.includes('P/D') ? '' : `${fmt(row.result.p50Ms - (find('direct', row.concurrency)?.p50Ms ?? Number.NaN), 3)} ms`;
      const ratio = nginx64 && row.concurrency === 64 && !row.target.includes('P/D') ? `${fmt(row.result.requestsPerSecond / nginx64.requestsPerSecond)}×` : '';
      console.log(`| ${row.target} | ${row.concurrency} | ${fmt(row.result.p50Ms, 3)} | ${fmt(row.result.p99Ms, 3)} | ${fmt(row.result.requestsPerSecond, 0)} | ${added} | ${ratio} | ${row.result.errors} |`);
    }
    const pd = find('sidecar P/D', 1);
    const prefillLeg = find('prefill leg', 1);
    const decodeLeg = find('decode leg', 1);
    if (pd && prefillLeg && decodeLeg) {
      const overhead = pd.p50Ms - prefillLeg.p50Ms - decodeLeg.p50Ms;
      console.log(`\nP/D coordination overhead at c=1 (p50 total − p50 prefill leg − p50 decode leg): ${fmt(overhead, 3)} ms (target ≤ 0.5 ms)`);
    }
    const pass1 = find('sidecar → sim', 1);
    if (pass1) console.log(`Pass-through added p50 at c=1: ${fmt(pass1.p50Ms - direct1.p50Ms, 3)} ms (target ≤ 0.1 ms)`);
    const pass64 = find('sidecar → sim', 64);
    if (pass64 && nginx64) console.log(`Pass-through req/s at c=64: ${fmt(pass64.requestsPerSecond / nginx64.requestsPerSecond)}× nginx (target ≥ 0.6×)`);
    if (!nginx) console.log('nginx not installed: reference rows skipped (apt-get install nginx-light)');
  } finally {
    await nginx?.stop();
    await Promise.all(services.map((s) => s.stop()));
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

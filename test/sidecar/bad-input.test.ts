/**
 * A corpus of malformed and hostile inputs against a real sidecar in front of a real simulator:
 * every row gets its documented status with an OpenAI-shaped error, nothing reaches a disallowed
 * target, and the sidecar keeps serving afterwards.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startCli, type RunningProcess } from '../helpers/processes.js';
import { startTestSidecar, type TestSidecar } from './helpers/sidecar.js';

let sim: RunningProcess;
let sidecar: TestSidecar;
let trap: net.Server;
let trapHits = 0;
let trapPort = 0;
const TRAP_HOST = '127.0.0.5';

beforeAll(async () => {
  sim = await startCli(['sim', '--port', '0', '--host', '127.0.0.1', '--model', 'm']);
  trap = net.createServer((socket) => {
    trapHits++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => trap.listen(0, TRAP_HOST, resolve));
  trapPort = (trap.address() as net.AddressInfo).port;
  sidecar = await startTestSidecar(sim.port, { enableSsrfProtection: true, ssrfAllowlist: ['127.0.0.1'], maxBodyBytes: 64 * 1024 });
});
afterAll(async () => {
  await sidecar?.close(0);
  await sim?.stop();
  trap?.close();
});

const CHAT = '{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":2}';

interface Row {
  name: string;
  body?: string | Buffer;
  headers?: Record<string, string>;
  status: number;
  /** false: the documented answer is not JSON (the SSRF denial is upstream's plain text). */
  json?: boolean;
}

const rows: Row[] = [
  { name: 'not JSON', body: '{"model":', status: 400 },
  { name: 'JSON array', body: '[1,2]', status: 400 },
  { name: 'JSON null', body: 'null', status: 400 },
  { name: 'empty body', body: '', status: 400 },
  { name: 'invalid UTF-8 in a key', body: Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]), status: 400 },
  // A request that is valid apart from one byte: it must not be silently rewritten to U+FFFD and served.
  { name: 'invalid UTF-8 in a message', body: Buffer.concat([Buffer.from('{"model":"m","messages":[{"role":"user","content":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}],"max_tokens":2}')]), status: 400 },
  { name: 'too large', body: `{"model":"m","prompt":"${'x'.repeat(70 * 1024)}"}`, status: 413 },
  { name: 'prefill target with userinfo', headers: { 'x-prefiller-host-port': `127.0.0.1:80@{trap}` }, status: 400 },
  { name: 'prefill target with scheme', headers: { 'x-prefiller-host-port': `http://{trap}` }, status: 400 },
  { name: 'prefill target with path', headers: { 'x-prefiller-host-port': `{trap}/x` }, status: 400 },
  { name: 'prefill target port 0', headers: { 'x-prefiller-host-port': '127.0.0.1:0' }, status: 400 },
  { name: 'prefill target port 99999', headers: { 'x-prefiller-host-port': '127.0.0.1:99999' }, status: 400 },
  { name: 'prefill target not allowlisted', headers: { 'x-prefiller-host-port': `{trap}` }, status: 403, json: false },
  { name: 'encoder target with userinfo', headers: { 'x-encoder-hosts-ports': `127.0.0.1:1@{trap}` }, status: 400 },
];

describe('bad-input corpus', () => {
  it.each(rows.map((row) => ({ ...row, label: row.name })))('$label → $status', async (row) => {
    const answer = await request(`${sidecar.url}/v1/chat/completions`, {
      method: 'POST', body: row.body ?? CHAT,
      // Rows are listed before the trap has its port: `{trap}` is its address.
      headers: { 'content-type': 'application/json', ...Object.fromEntries(Object.entries(row.headers ?? {}).map(([k, v]) => [k, v.replace('{trap}', `${TRAP_HOST}:${trapPort}`)])) },
    });
    expect(answer.statusCode).toBe(row.status);
    const text = await answer.body.text();
    if (row.json !== false) {
      const error = (JSON.parse(text) as { error: Record<string, unknown> }).error;
      expect(typeof error.message).toBe('string');
      expect(typeof error.type).toBe('string');
      expect(error.code).toBe(row.status);
    }
    expect(trapHits).toBe(0);
  });

  it('the sidecar still serves, and the trap does accept connections (positive controls)', async () => {
    const health = await request(`${sidecar.url}/health`);
    expect(health.statusCode).toBe(200);
    await health.body.dump();
    const answer = await request(`${sidecar.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: CHAT });
    expect(answer.statusCode).toBe(200);
    expect(await answer.body.json()).toHaveProperty('choices');
    await new Promise<void>((resolve) => net.connect(trapPort, TRAP_HOST).on('close', () => resolve()).on('error', () => resolve()));
    expect(trapHits).toBe(1);
  });
});

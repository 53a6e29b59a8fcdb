/** Shared helpers for the simulator tests: in-process simulators, JSON posts, SSE parsing. */
import { expect } from 'vitest';
import { startSimulator, type RunningSimulator, type SimulatorOptions } from '../../src/sim/simulator.js';
import type { SimConfigInput } from '../../src/sim/config.js';
import { poll } from '../helpers/poll.js';

export const running: RunningSimulator[] = [];

/** Starts an in-process simulator on 127.0.0.1:0 (closed by `closeAll`). */
export async function sim(config: Partial<SimConfigInput> = {}, options: SimulatorOptions = {}): Promise<RunningSimulator> {
  const simulator = await startSimulator({ model: 'm', host: '127.0.0.1', port: 0, seed: 1n, podIp: '127.0.0.1', ...config }, options);
  running.push(simulator);
  return simulator;
}

export async function closeAll(): Promise<void> {
  await Promise.all(running.splice(0).map((simulator) => simulator.close({ drainMs: 5_000 })));
}

export function post(base: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

export async function postJson(base: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const response = await post(base, path, body, headers);
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null, headers: response.headers };
}

/** The `data:` payloads of an SSE body, in order (`[DONE]` kept as the string). */
export async function sseEvents(response: Response): Promise<any[]> {
  const text = await response.text();
  expect(text.endsWith('\n\n')).toBe(true);
  return text
    .split('\n\n')
    .filter(Boolean)
    .map((block) => {
      expect(block.startsWith('data: ')).toBe(true);
      const data = block.slice('data: '.length);
      return data === '[DONE]' ? data : JSON.parse(data);
    });
}

/** Value of one sample in Prometheus text (undefined when absent). */
export function metricValue(text: string, series: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return undefined;
}

export async function metrics(base: string): Promise<string> {
  return (await fetch(`${base}/metrics`)).text();
}

export const chat = (content: string, extra: Record<string, unknown> = {}) => ({ model: 'm', messages: [{ role: 'user', content }], ...extra });

/** Polls until `check` passes (for states reached asynchronously); no timing assertions. */
export async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  await poll(check, { what: 'the condition', timeoutMs });
}

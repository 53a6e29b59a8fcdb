/**
 * One bounded HTTP GET for scrapes (vLLM /metrics, DCGM exporter): `timeoutMs` covers the whole
 * exchange and the body is cut off as soon as it passes `maxBodyBytes`, so a peer streaming an
 * endless body cannot grow the EPP's memory. A non-200 status fails the scrape.
 */
import type { Agent } from 'undici';

export class ScrapeTooLarge extends Error {}

/** The body as text, failing as soon as it passes `limit` bytes (the rest is never read). */
async function boundedText(body: AsyncIterable<Uint8Array> & { destroy(err?: Error): unknown }, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.byteLength;
    if (size > limit) {
      const err = new ScrapeTooLarge(`metrics body larger than ${limit} bytes`);
      body.destroy(err);
      throw err;
    }
    chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  }
  return Buffer.concat(chunks, size).toString('utf8');
}

export interface BoundedGet {
  readonly origin: string;
  readonly path: string;
  readonly timeoutMs: number;
  readonly maxBodyBytes: number;
}

export async function boundedGetText(agent: Agent, get: BoundedGet): Promise<string> {
  const response = await agent.request({
    origin: get.origin,
    path: get.path,
    method: 'GET',
    headersTimeout: get.timeoutMs,
    bodyTimeout: get.timeoutMs,
    signal: AbortSignal.timeout(get.timeoutMs),
  });
  if (response.statusCode !== 200) {
    // undici reports a destroyed, unread body as an 'error' event: nobody else listens.
    response.body.on('error', () => {});
    response.body.destroy();
    throw new Error(`status ${response.statusCode}`);
  }
  return boundedText(response.body, get.maxBodyBytes);
}

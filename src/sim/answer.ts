/**
 * Turning a request's choice events into the HTTP answer. Non-streaming:
 * wait for every choice, then one JSON body (the first failure wins). Streaming: the status and
 * headers go out only with the first event (so a request that fails while queued or before its
 * first token keeps its real status), then one SSE event per chunk, flushed as it happens;
 * a failure after that is one `data: {"error":…}` event and `[DONE]`.
 */
import type { ServerResponse } from 'node:http';
import type { OpenAIError } from '../openai/errors.js';
import { completionBody, aggregateUsage, SSE_DONE, sseEvent, streamChunk, tokenLogprobs, usageChunk, type ChoiceResult, type ResponseIdentity } from './responses.js';
import { simError } from './failures.js';
import type { SimRequest } from './request.js';
import { CACHE_THRESHOLD, type ChoiceSink } from './worker.js';

export type ChoiceEvent =
  | { type: 'started'; choice: number }
  | { type: 'token'; choice: number; text: string; position: number }
  | { type: 'finished'; choice: number; result: ChoiceResult }
  | { type: 'failed'; choice: number; error: OpenAIError };

/** A ChoiceSink that queues events for one reader; after `close()` events are dropped. */
export class ChoiceEvents implements ChoiceSink {
  private readonly buffer: ChoiceEvent[] = [];
  private waiter: ((event: ChoiceEvent | undefined) => void) | undefined;
  private closed = false;

  started(choice: number): void { this.push({ type: 'started', choice }); }
  token(choice: number, text: string, position: number): void { this.push({ type: 'token', choice, text, position }); }
  finished(choice: number, result: ChoiceResult): void { this.push({ type: 'finished', choice, result }); }
  failed(choice: number, error: OpenAIError): void { this.push({ type: 'failed', choice, error }); }

  /** The next event; undefined once closed. */
  next(): Promise<ChoiceEvent | undefined> {
    const event = this.buffer.shift();
    if (event !== undefined || this.closed) return Promise.resolve(event);
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  close(): void {
    this.closed = true;
    this.buffer.length = 0;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.(undefined);
  }

  private push(event: ChoiceEvent): void {
    if (this.closed) return;
    const waiter = this.waiter;
    if (waiter) {
      this.waiter = undefined;
      waiter(event);
    } else {
      this.buffer.push(event);
    }
  }
}

export type JsonAnswer = { ok: true; body: Record<string, unknown> } | { ok: false; error: OpenAIError };

/** Waits for every choice; the body, or the first failure. */
export async function collectAnswer(events: ChoiceEvents, total: number, request: SimRequest, model: string, prefillParams?: () => object): Promise<JsonAnswer> {
  const results = new Array<ChoiceResult>(total);
  for (let done = 0; done < total;) {
    const event = await events.next();
    if (event === undefined) return { ok: false, error: simError(500, 'the answer was abandoned') };
    if (event.type === 'failed') {
      events.close();
      return { ok: false, error: event.error };
    }
    if (event.type === 'finished') {
      results[event.choice] = event.result;
      done++;
    }
  }
  events.close();
  const identity: ResponseIdentity = { api: request.api, requestId: request.id, model, created: Math.floor(Date.now() / 1000) };
  return { ok: true, body: completionBody(identity, results, request.doRemoteDecode && (prefillParams?.() ?? true)) };
}

export interface StreamTarget {
  outgoing: ServerResponse;
  headers: Record<string, string>;
}

/**
 * Streams the answer. Resolves with the error to send as JSON when the very first event is a
 * failure (nothing written yet), else undefined once the stream has ended.
 */
/** An SSE answer whose 200 head is written: `write` drops data once the client is gone. */
export interface OpenedStream {
  readonly first: ChoiceEvent;
  write(data: string): void;
  /** Stops reading events and ends the answer (unless the client already left). */
  end(): void;
}

/**
 * The start every streamed answer shares (OpenAI chunks, Anthropic events). The client may go away
 * at any point, even while queued: stop reading, never write after that. Resolves with the error to
 * send as JSON when the first event is a failure (nothing written yet), undefined when the client
 * left or nothing came, else the opened stream.
 */
export async function openStream(events: ChoiceEvents, target: StreamTarget): Promise<OpenedStream | OpenAIError | undefined> {
  const { outgoing } = target;
  let gone = false;
  outgoing.once('close', () => {
    gone = true;
    events.close();
  });
  const first = await events.next();
  if (first === undefined || gone) return undefined;
  if (first.type === 'failed') {
    events.close();
    return first.error;
  }
  outgoing.writeHead(200, { ...target.headers, 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  return {
    first,
    write: (data) => {
      if (!gone && !outgoing.writableEnded) outgoing.write(data);
    },
    end: () => {
      events.close();
      if (!gone) outgoing.end();
    },
  };
}

export async function streamAnswer(events: ChoiceEvents, total: number, request: SimRequest, model: string, target: StreamTarget): Promise<OpenAIError | undefined> {
  const opened = await openStream(events, target);
  if (opened === undefined || !('write' in opened)) return opened;
  const { first, write } = opened;
  const identity: ResponseIdentity = { api: request.api, requestId: request.id, model, created: Math.floor(Date.now() / 1000) };
  const results = new Array<ChoiceResult | undefined>(total);
  let done = 0;

  for (let event: ChoiceEvent | undefined = first; event !== undefined; event = done < total ? await events.next() : undefined) {
    switch (event.type) {
      case 'started':
        if (request.api === 'chat') write(sseEvent(streamChunk(identity, event.choice, { role: 'assistant' })));
        break;
      case 'token':
        write(sseEvent(streamChunk(identity, event.choice, {
          text: event.text,
          logprobs: tokenLogprobs(request.api, event.text, event.position, request.logprobs),
        })));
        break;
      case 'finished':
        results[event.choice] = event.result;
        done++;
        // A cache_threshold answer is a single empty chunk carrying the reason, sent right away.
        if (event.result.finishReason === CACHE_THRESHOLD) {
          write(sseEvent(streamChunk(identity, event.choice, { finishReason: CACHE_THRESHOLD })));
        }
        break;
      case 'failed':
        write(sseEvent(event.error.toBody()));
        write(SSE_DONE);
        opened.end();
        return undefined;
    }
  }
  results.forEach((result, index) => {
    if (result && result.finishReason !== CACHE_THRESHOLD) write(sseEvent(streamChunk(identity, index, { finishReason: result.finishReason })));
  });
  const finished = results.filter((result): result is ChoiceResult => result !== undefined);
  if (request.includeUsage && finished.length === total) write(sseEvent(usageChunk(identity, aggregateUsage(finished))));
  write(SSE_DONE);
  opened.end();
  return undefined;
}

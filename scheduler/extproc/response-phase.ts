/**
 * The response direction of one ext_proc stream (see docs/extproc.md). Response headers are answered
 * at once. A streamed answer (the request said `"stream": true`, or the content type is
 * `text/event-stream`) goes back chunk by chunk as it comes, scanned for usage and with the model
 * name rewritten back to the client's; a non-streamed one is buffered until end-of-stream, then
 * sent in 62000-byte chunks. Trailers end the response with an empty TrailersResponse.
 */
import type { ResponseInfo } from '../framework/plugins.js';
import { headerMapToMap } from './headers.js';
import { bodyChunks, responseHeadersResponse, responseTrailersResponse } from './messages.js';
import type { HttpBody, HttpHeaders, ProcessingResponse } from './proto.js';
import { ModelRewriter, SseUsageScanner, jsonUsage, type Usage } from './response-body.js';

export interface ResponsePhaseOptions {
  /** The request asked for a streamed answer. */
  streamingRequest: boolean;
  /** The model the client sent and the one the upstream saw; when they differ the body is rewritten back. */
  model?: string;
  targetModel?: string;
  /** Returned to the client in `x-request-id`. */
  requestId?: string;
}

export interface PhaseStep {
  readonly responses: ProcessingResponse[];
  /** The response is complete (end-of-stream or trailers). */
  readonly done: boolean;
}

export class ResponsePhase {
  private status = 0;
  private headers = new Map<string, string>();
  private streaming: boolean;
  private readonly rewriter: ModelRewriter | undefined;
  private sse: SseUsageScanner | undefined;
  private buffered: Buffer[] = [];
  private bufferedSize = 0;
  private usage: Usage | undefined;
  private finished = false;
  private readonly requestId: string | undefined;

  constructor(options: ResponsePhaseOptions) {
    this.requestId = options.requestId;
    this.streaming = options.streamingRequest;
    this.rewriter = options.model !== undefined && options.targetModel !== undefined && options.model !== options.targetModel
      ? new ModelRewriter(options.targetModel, options.model)
      : undefined;
  }

  onHeaders(message: HttpHeaders): PhaseStep {
    this.headers = headerMapToMap(message.headers);
    this.status = Number.parseInt(this.headers.get(':status') ?? '', 10) || 0;
    if ((this.headers.get('content-type') ?? '').includes('text/event-stream')) this.streaming = true;
    // A rewritten model name changes the body's length: Envoy must not forward the old one.
    const remove = this.rewriter ? ['content-length'] : [];
    const done = message.end_of_stream === true;
    this.finished ||= done;
    return { responses: [responseHeadersResponse(this.headers, remove, this.requestId)], done };
  }

  onBody(message: HttpBody): PhaseStep {
    const end = message.end_of_stream === true || message.end_of_stream_without_message === true;
    const raw = message.body;
    const chunk = raw && raw.length > 0 ? Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength) : Buffer.alloc(0);
    if (this.finished) return { responses: [], done: false };
    this.finished = end;
    if (this.streaming) {
      this.sse ??= new SseUsageScanner();
      this.sse.push(chunk);
      const out = this.rewriter ? this.rewriter.push(chunk, end) : chunk;
      if (end) this.usage = this.sse.finish() ?? this.usage;
      // A chunk wholly held back by the rewriter (a split model name) goes out with the next one.
      return { responses: out.length > 0 || end ? bodyChunks('response_body', out, end) : [], done: end };
    }
    if (chunk.length > 0) {
      this.buffered.push(Buffer.from(chunk));
      this.bufferedSize += chunk.length;
    }
    return { responses: end ? this.flushBuffered(true) : [], done: end };
  }

  /** Trailers end the response: whatever is still held goes out first (without end-of-stream). */
  onTrailers(): PhaseStep {
    const responses: ProcessingResponse[] = [];
    if (!this.finished) {
      if (this.streaming) {
        const rest = this.rewriter?.push(Buffer.alloc(0), true);
        if (rest && rest.length > 0) responses.push(...bodyChunks('response_body', rest, false));
        this.usage = this.sse?.finish() ?? this.usage;
      } else if (this.bufferedSize > 0) {
        responses.push(...this.flushBuffered(false));
      }
      this.finished = true;
    }
    responses.push(responseTrailersResponse());
    return { responses, done: true };
  }

  /** What the ResponseComplete plugins learn about this response. */
  info(completed: boolean): ResponseInfo {
    return { status: this.status, headers: this.headers, usage: this.usage, completed };
  }

  private flushBuffered(endOfStream: boolean): ProcessingResponse[] {
    let body: Buffer = Buffer.concat(this.buffered, this.bufferedSize);
    this.buffered = [];
    this.bufferedSize = 0;
    this.usage = jsonUsage(body) ?? this.usage;
    if (this.rewriter) body = this.rewriter.push(body, true);
    return bodyChunks('response_body', body, endOfStream);
  }
}

/**
 * The simulator's HTTP API as a hono app: one handler per route reading like
 * the protocol it serves; error mapping (OpenAI envelope with vLLM's type names) in `onError`.
 */
import { randomUUID } from 'node:crypto';
import { Hono, type Context } from 'hono';
import type { HttpBindings } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { z } from 'zod';
import { readBody } from '../http/body.js';
import { OpenAIError } from '../openai/errors.js';
import { API_PATHS, parseApiBody } from '../openai/apis.js';
import { parseJsonObject } from '../openai/parse.js';
import type { ChatCompletionsBody } from '../openai/types.js';
import { ChatMessage } from '../openai/schema.js';
import type { Logger } from '../log.js';
import { applyAdminUpdate, configView, isAdminUpdateError } from './admin-config.js';
import { ChoiceEvents, collectAnswer, streamAnswer } from './answer.js';
import type { Engine } from './engine.js';
import { returnErrorHeader, simError, simErrorType } from './failures.js';
import { messagesBody, streamMessages } from './messages.js';
import { toSimRequest } from './request.js';
import { KV_PULL_BODY_LIMIT, KV_PULL_PATH, PullNotice, prefillKvTransferParams } from './step/kv-pull.js';
import { CHAT_RENDER_PATH, COMPLETIONS_RENDER_PATH, renderTokenIds } from './render.js';
import { extractContext, markError, SpanKind, tracer, type Span } from '../telemetry/tracing.js';

type Env = { Bindings: HttpBindings };

/** Process-level state the routes read. */
export interface ServerState {
  draining: boolean;
  sleeping: boolean;
  startedAt: number;
  /** The port actually listened on (for `x-inference-port`). */
  port: number;
  /** `VLLM_SERVER_DEV_MODE=1`: `/sleep` is allowed (with `--enable-sleep-mode`). */
  devMode: boolean;
}

export interface SimAppOptions {
  engine: Engine;
  state: ServerState;
  logger: Logger;
}

/** Go's strconv.ParseBool. */
export function goBool(value: string | undefined): boolean | undefined {
  if (value === undefined) return undefined;
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(value)) return false;
  return undefined;
}

function toSimOpenAIError(err: unknown): OpenAIError {
  if (err instanceof OpenAIError) {
    const type = simErrorType(err.status);
    return err.type === type ? err : new OpenAIError(err.status, err.message, { type, param: err.param, cause: err.cause });
  }
  if (isAdminUpdateError(err)) return simError(400, err.message);
  return simError(500, 'internal error');
}

function jsonError(error: OpenAIError, headers: Record<string, string> = {}): Response {
  return new Response(error.toJSON(), { status: error.status, headers: { ...headers, 'content-type': 'application/json' } });
}

const TokenizeBody = z.looseObject({ model: z.string().optional(), prompt: z.string().optional(), messages: z.array(ChatMessage).optional() });

export function createSimApp({ engine, state, logger }: SimAppOptions): Hono<Env> {
  const app = new Hono<Env>();
  const bodyLimit = (): number => engine.config.maxRequestBodySizeMb * 1024 * 1024;
  const readJson = async (c: Context<Env>): Promise<Record<string, unknown>> =>
    parseJsonObject(await readBody(c.env.incoming, bodyLimit(), c.req.header('content-length')));

  /** Where decode pods reach this sim (remote_host of a prefill answer). */
  const advertisedHost = (): string => {
    const { podIp, host } = engine.config;
    if (podIp !== '') return podIp;
    return host === '' || host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  };

  const responseHeaders = (requestId: string): Record<string, string> => {
    const config = engine.config;
    const headers: Record<string, string> = {};
    if (config.podName) {
      headers['x-inference-pod'] = config.podName;
      headers['x-inference-port'] = String(state.port);
    }
    if (config.podNamespace) headers['x-inference-namespace'] = config.podNamespace;
    if (config.enableRequestIdHeaders) headers['x-request-id'] = requestId;
    return headers;
  };

  /**
   * vLLM emits one SERVER span `llm_request` per request, parented on the incoming traceparent;
   * so does the simulator, so traces show the model servers as vLLM would.
   */
  type SimApi = 'chat_completions' | 'completions' | 'messages';
  const inference = async (c: Context<Env>, api: SimApi): Promise<Response> => {
    const span = tracer('vllm-sim').startSpan('llm_request', { kind: SpanKind.SERVER, attributes: { 'url.path': c.req.path } }, extractContext(c.env.incoming.headers));
    try {
      const response = await serveInference(c, api, span);
      span.setAttribute('http.response.status_code', response === RESPONSE_ALREADY_SENT ? 200 : response.status);
      return response;
    } catch (err) {
      markError(span, err);
      throw err;
    } finally {
      span.end();
    }
  };

  /** `messages` runs as its chat equivalent; only the answer's shape differs (./messages.ts). */
  const serveInference = async (c: Context<Env>, api: SimApi, span: Span): Promise<Response> => {
    if (state.draining) throw simError(503, 'server is shutting down');
    const raw = await readBody(c.env.incoming, bodyLimit(), c.req.header('content-length'));
    const parsed = parseApiBody(api, raw).body as Parameters<typeof toSimRequest>[0];
    const headerId = engine.config.enableRequestIdHeaders ? c.req.header('x-request-id') : undefined;
    const requestId = headerId || randomUUID();
    const returnError = c.req.header('x-return-error');
    if (returnError !== undefined && returnError !== '') throw returnErrorHeader(returnError);
    const request = toSimRequest(parsed, { id: requestId, forceCacheThreshold: goBool(c.req.header('x-cache-threshold-finish-reason')) === true });

    span.setAttributes({ 'gen_ai.request.id': requestId, 'gen_ai.request.model': request.model, 'gen_ai.request.stream': request.stream });
    logger.debug({ requestId, api, model: request.model, stream: request.stream, choices: request.prompts.length * (request.n ?? 1) }, 'request');
    const events = new ChoiceEvents();
    const total = engine.submit(request, events);
    const headers = responseHeaders(requestId);
    const model = engine.loras.isLora(request.model) ? request.model : engine.displayModel;
    const failed = (error: OpenAIError): Response => {
      const answer = toSimOpenAIError(error);
      logger[answer.status >= 500 ? 'warn' : 'debug']({ requestId, status: answer.status }, answer.message);
      return jsonError(answer, headers);
    };
    if (request.stream) {
      const target = { outgoing: c.env.outgoing, headers };
      const error = api === 'messages' ? await streamMessages(events, request, model, target) : await streamAnswer(events, total, request, model, target);
      return error ? failed(error) : RESPONSE_ALREADY_SENT;
    }
    const step = engine.step;
    const prefillParams = step ? () => prefillKvTransferParams({
      engineId: engine.engineId, requestId: request.id, host: advertisedHost(), port: state.port,
      blockIds: step.heldBlockIds(request.id), tensorParallelSize: step.tensorParallelSize,
    }) : undefined;
    const answer = await collectAnswer(events, total, request, model, prefillParams);
    if (!answer.ok) return failed(answer.error);
    return new Response(JSON.stringify(api === 'messages' ? messagesBody(answer.body) : answer.body), { status: 200, headers: { ...headers, 'content-type': 'application/json' } });
  };

  for (const api of ['chat_completions', 'completions', 'messages'] as const) app.post(API_PATHS[api], (c) => inference(c, api));
  for (const [path, api] of [[CHAT_RENDER_PATH, 'chat_completions'], [COMPLETIONS_RENDER_PATH, 'completions']] as const) {
    app.post(path, async (c) => c.json(await renderTokenIds(engine, api, await readBody(c.env.incoming, bodyLimit(), c.req.header('content-length')))));
  }

  // Step engine, P/D: a decode pod read a prefill leg's blocks (step/kv-pull.ts); free them.
  app.post(KV_PULL_PATH, async (c) => {
    if (!engine.step) throw simError(404, 'Not Found');
    const notice = PullNotice.safeParse(parseJsonObject(await readBody(c.env.incoming, KV_PULL_BODY_LIMIT, c.req.header('content-length'))));
    if (!notice.success) throw simError(400, 'a KV pull notice is {"engine_id": string, "request_id": string}');
    const { engine_id: engineId, request_id: requestId } = notice.data;
    if (engineId !== engine.engineId || !engine.step.release(requestId)) throw simError(404, `no blocks held for request ${requestId}`);
    logger.debug({ requestId }, 'KV blocks pulled; freed');
    return c.json({ released: true });
  });

  app.get('/v1/models', (c) => {
    const config = engine.config;
    const created = Math.floor(Date.now() / 1000);
    const entry = (id: string, root: string, parent: string | null): Record<string, unknown> =>
      ({ id, object: 'model', created, owned_by: 'vllm', root, parent, max_model_len: config.maxModelLen });
    const data = config.servedModelNames.map((alias) => entry(alias, config.model, null));
    for (const lora of engine.loras.names()) data.push(entry(lora, engine.loras.pathOf(lora), engine.displayModel));
    return c.json({ object: 'list', data });
  });

  app.get('/health', () => new Response(null, { status: 200, headers: { 'content-type': 'application/json' } }));
  app.get('/health/ready', () => {
    const ready = Date.now() - state.startedAt >= engine.config.startupDuration;
    return new Response(null, { status: ready ? 200 : 503, headers: { 'content-type': 'application/json' } });
  });

  app.get('/metrics', async () => new Response(await engine.metrics.text(), { headers: { 'content-type': engine.metrics.contentType } }));

  app.post('/tokenize', async (c) => {
    const result = TokenizeBody.safeParse(await readJson(c));
    if (!result.success) throw simError(400, `Failed to read and parse tokenize request body, ${result.error.issues[0]?.message ?? 'invalid body'}`);
    const { prompt, messages } = result.data;
    if (prompt && messages) throw simError(400, 'both prompt and messages fields in tokenize request');
    const body = { ...result.data, model: result.data.model ?? engine.config.model, messages: messages ?? [] } as ChatCompletionsBody;
    const { ids: tokens } = await engine.tokenizePrompt(prompt ? { kind: 'text', text: prompt } : { kind: 'chat', messages: body.messages, body });
    return c.json({ max_model_len: engine.config.maxModelLen, count: tokens.length, tokens, token_strs: null });
  });

  app.post('/v1/load_lora_adapter', async (c) => {
    const body = await readJson(c);
    engine.loras.register(String(body.lora_name ?? ''), String(body.lora_path ?? ''));
    return c.body(null, 200);
  });
  app.post('/v1/unload_lora_adapter', async (c) => {
    const body = await readJson(c);
    engine.loras.unregister(String(body.lora_name ?? ''));
    return c.body(null, 200);
  });

  app.get('/admin/config', (c) => c.json(configView(engine.config)));
  app.post('/admin/config', async (c) => {
    const next = applyAdminUpdate(engine.config, await readJson(c));
    if (next.fakeMetrics && next.fakeMetrics !== engine.config.fakeMetrics) engine.metrics.setFake(next.fakeMetrics);
    engine.updateConfig(next);
    logger.info({ update: configView(next) }, 'configuration updated');
    return c.json(configView(next));
  });

  app.post('/sleep', (c) => {
    if (engine.config.enableSleepMode && state.devMode) {
      state.sleeping = true;
      engine.kvCache?.discard();
      engine.step?.clearCache();
    } else {
      logger.info('sleep request skipped: needs --enable-sleep-mode and VLLM_SERVER_DEV_MODE=1');
    }
    return c.body(null, 200);
  });
  app.post('/wake_up', (c) => {
    const tags = c.req.query('tags');
    if (tags === undefined || tags === 'kv_cache') engine.kvCache?.activate();
    state.sleeping = false;
    return c.body(null, 200);
  });
  app.get('/is_sleeping', (c) => c.json({ is_sleeping: state.sleeping }));

  app.notFound(() => jsonError(simError(404, 'Not Found')));
  app.onError((err) => {
    const error = toSimOpenAIError(err);
    if (error.status >= 500) logger.error({ err }, error.message);
    return jsonError(error);
  });
  return app;
}

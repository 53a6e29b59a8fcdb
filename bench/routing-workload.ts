/**
 * The routing benchmark's workload and client (bench/routing.ts): multi-turn chats with a system
 * prompt shared per user group — the shape of llm-d's precise-prefix benchmark, and of guidellm's
 * multi-turn runs (3-turn conversations, 16 concurrent users, ~256 prompt + ~256 output tokens per
 * turn). Texts are words from a fixed list, one simulated token each, drawn from a seeded PRNG, so
 * every strategy replays exactly the same requests.
 */
import { performance } from 'node:perf_hooks';
import { Agent, request } from 'undici';
import { seededRandom } from '../src/random.js';

export interface WorkloadShape {
  users: number;
  groups: number;
  conversationsPerUser: number;
  turns: number;
  systemTokens: number;
  turnTokens: number;
  outputTokens: number;
  /** Draw each conversation's group at random instead of using the user's fixed group. */
  randomGroups: boolean;
  seed: number;
}

export const prng = seededRandom;

const WORDS = (
  'time person year way day thing man world life hand part child eye woman place work week case point government company ' +
  'number group problem fact money story lot water month right study book job word business issue side kind head house ' +
  'service friend father power hour game line end member law car city community name president team minute idea kid body ' +
  'information back parent face others level office door health art war history party result change morning reason research ' +
  'girl guy moment air teacher force education foot boy age policy process music market sense nation plan college interest ' +
  'death experience effect use class control care field development role effort rate heart drug show leader light voice wife ' +
  'police mind price report decision son view relationship town road arm difference value building action model season society ' +
  'tax director position player record paper space ground form event official matter center couple site project activity star ' +
  'table need court oil situation cost industry figure street image phone data picture practice piece land product doctor wall ' +
  'patient worker news test movie north love support technology step baby computer type attention film tree source organization ' +
  'hair window evidence population truth song address river region bridge mountain valley ocean forest garden kitchen engine'
).split(' ');

/** `count` words (= simulated tokens: each word with its trailing space is one token). */
export function words(random: () => number, count: number): string {
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push(WORDS[Math.floor(random() * WORDS.length)]!);
  return out.join(' ');
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** The system prompt of each user group. */
export function systemPrompts(shape: WorkloadShape): string[] {
  return Array.from({ length: shape.groups }, (_, group) => `Group ${group} instructions: ${words(prng(shape.seed * 1000 + group), shape.systemTokens)}`);
}

/**
 * The group (system prompt) of a conversation: the user's group (user mod groups: fixed user
 * groups, as in llm-d's shared-prefix workload), or with `randomGroups` a group drawn per
 * conversation, so that group popularity — and so the load behind each prefix — fluctuates.
 */
export function conversationGroup(shape: WorkloadShape, user: number, conversation: number): number {
  if (!shape.randomGroups) return user % shape.groups;
  return Math.floor(prng((shape.seed * 7919 + user) * 104729 + conversation)() * shape.groups);
}

/** The user's message of one turn: the same for every strategy. */
export function userMessage(shape: WorkloadShape, user: number, conversation: number, turn: number): string {
  const random = prng(((shape.seed * 7919 + user) * 104729 + conversation) * 31 + turn);
  return `Question ${conversation}.${turn}: ${words(random, shape.turnTokens)}`;
}

export interface TurnResult {
  ok: boolean;
  status: number;
  /** ms from sending to the first content chunk. */
  ttftMs: number;
  /** ms from sending to the end of the stream. */
  e2eMs: number;
  promptTokens: number;
  cachedTokens: number;
  completionTokens: number;
  text: string;
  /** `x-inference-pod` of the answering simulator. */
  pod: string;
  error?: string;
}

/**
 * One streaming chat completion (`stream_options.include_usage`): TTFT is the first chunk with
 * content; usage comes from the final chunk.
 */
export async function streamChat(dispatcher: Agent, url: string, body: Record<string, unknown>): Promise<TurnResult> {
  const started = performance.now();
  const result: TurnResult = { ok: false, status: 0, ttftMs: Number.NaN, e2eMs: Number.NaN, promptTokens: 0, cachedTokens: 0, completionTokens: 0, text: '', pod: '' };
  try {
    const response = await request(url, {
      dispatcher,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...body, stream: true, stream_options: { include_usage: true } }),
    });
    result.status = response.statusCode;
    result.pod = String(response.headers['x-inference-pod'] ?? '');
    if (response.statusCode !== 200) {
      result.error = (await response.body.text()).slice(0, 300);
      return result;
    }
    let buffered = '';
    const texts: string[] = [];
    for await (const chunk of response.body) {
      buffered += (chunk as Buffer).toString('utf8');
      let end: number;
      while ((end = buffered.indexOf('\n\n')) >= 0) {
        const event = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        if (!event.startsWith('data: ')) continue;
        const data = event.slice(6);
        if (data === '[DONE]') continue;
        const parsed = JSON.parse(data) as {
          error?: { message: string };
          choices?: Array<{ delta?: { content?: string } }>;
          usage?: { prompt_tokens: number; completion_tokens: number; prompt_tokens_details?: { cached_tokens?: number } | null } | null;
        };
        if (parsed.error) throw new Error(parsed.error.message);
        const content = parsed.choices?.[0]?.delta?.content;
        if (content) {
          if (texts.length === 0) result.ttftMs = performance.now() - started;
          texts.push(content);
        }
        if (parsed.usage) {
          result.promptTokens = parsed.usage.prompt_tokens;
          result.completionTokens = parsed.usage.completion_tokens;
          result.cachedTokens = parsed.usage.prompt_tokens_details?.cached_tokens ?? 0;
        }
      }
    }
    result.text = texts.join('');
    result.e2eMs = performance.now() - started;
    result.ok = texts.length > 0;
  } catch (err) {
    result.error = (err as Error).message;
  }
  return result;
}

/** Where a turn goes: the EPP gateway, or (oracle) a simulator chosen by the bench. */
export type Route = (messages: readonly ChatMessage[]) => string | Promise<string>;

export interface RunOutcome {
  turns: TurnResult[];
  wallSeconds: number;
}

/**
 * `users` closed-loop users, each running its conversations one after the other (no think time);
 * users start evenly spread over `rampMs`. Each turn appends the user message, sends the whole
 * conversation, and appends the answer.
 */
export async function runWorkload(shape: WorkloadShape, model: string, route: Route, options: { rampMs: number; onTurn?: () => void }): Promise<RunOutcome> {
  const systems = systemPrompts(shape);
  const dispatcher = new Agent({ connections: shape.users * 2, pipelining: 0, keepAliveTimeout: 30_000 });
  const turns: TurnResult[] = [];
  const started = performance.now();
  const user = async (index: number): Promise<void> => {
    await new Promise((resolve) => setTimeout(resolve, (options.rampMs * index) / shape.users));
    for (let conversation = 0; conversation < shape.conversationsPerUser; conversation++) {
      const group = conversationGroup(shape, index, conversation);
      const messages: ChatMessage[] = [{ role: 'system', content: systems[group]! }];
      for (let turn = 0; turn < shape.turns; turn++) {
        messages.push({ role: 'user', content: userMessage(shape, index, conversation, turn) });
        const result = await streamChat(dispatcher, await route(messages), { model, messages, max_tokens: shape.outputTokens, ignore_eos: true });
        turns.push(result);
        options.onTurn?.();
        if (!result.ok) break; // the conversation cannot go on without the answer
        messages.push({ role: 'assistant', content: result.text });
      }
    }
  };
  await Promise.all(Array.from({ length: shape.users }, (_, index) => user(index)));
  const wallSeconds = (performance.now() - started) / 1000;
  await dispatcher.close();
  return { turns, wallSeconds };
}

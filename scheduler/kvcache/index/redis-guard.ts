/**
 * Bounds what the Redis index may wait for and hold while the server is slow, silent or away.
 *
 * node-redis times a command out only while it waits to be written; once on the socket, a command
 * to a server that stopped answering (a network partition, a paused process) waits for ever, and a
 * pipeline has no timeout at all. So every index operation runs through `run(commands, start)`:
 *
 *  - refused at once while the client is not ready (reconnecting);
 *  - refused at once while an earlier operation is overdue (unanswered past `timeoutMs` and still
 *    unsettled): the server is not answering, and sending more would only keep its connection
 *    looking busy. The client's socket idle timeout (`redis-index.ts`) then replaces the
 *    connection, which fails what was queued on it, and operations flow again;
 *  - refused when it would take the commands awaiting an answer past `maxCommands`: a pipeline is
 *    sent whole or not at all (node-redis's own queue limit would cut one in the middle — an
 *    engine key's DEL sent without its ZADD);
 *  - rejected after `timeoutMs` without an answer.
 *
 * Every refusal and timeout names the backend and address; callers count them and carry on.
 */
import { settleWithin } from '../../../src/deadline.js';

export interface RedisGuardOptions {
  /** "redis at redis://host:port", for messages. */
  readonly label: string;
  readonly timeoutMs: number;
  readonly maxCommands: number;
  /** Whether the client can send now (node-redis `isReady`). */
  readonly ready: () => boolean;
}

export class RedisGuard {
  private awaiting = 0;
  private overdue = 0;

  constructor(private readonly options: RedisGuardOptions) {}

  /** Commands sent and not yet answered (or failed). */
  get pending(): number {
    return this.awaiting;
  }

  /** Runs `start()` (which sends `commands` commands) within the bounds above. */
  async run<T>(commands: number, start: () => Promise<T>): Promise<T> {
    const { label, timeoutMs, maxCommands } = this.options;
    if (!this.options.ready()) throw new Error(`${label} is unreachable (reconnecting)`);
    if (this.overdue > 0) throw new Error(`${label} has left commands unanswered for over ${timeoutMs} ms; not sending more until it answers or the connection is replaced`);
    if (this.awaiting + commands > maxCommands) throw new Error(`${label} has ${this.awaiting} commands unanswered; ${commands} more would pass the limit of ${maxCommands}`);
    this.awaiting += commands;
    let settled = false;
    let late = false;
    const work = start();
    const release = (): void => {
      settled = true;
      this.awaiting -= commands;
      if (late) this.overdue--;
    };
    work.then(release, release);
    return settleWithin(work, timeoutMs, () => {
      if (!settled) {
        late = true;
        this.overdue++;
      }
      return new Error(`${label} did not answer within ${timeoutMs} ms`);
    });
  }
}

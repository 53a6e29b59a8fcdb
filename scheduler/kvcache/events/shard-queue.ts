/**
 * A FIFO of async tasks run one at a time: the unit of per-pod ordering. All events of a pod go to
 * the same queue (sharded by pod), so a pod's BlockStored is applied before its BlockRemoved even
 * when the index is remote and each operation awaits a round trip. Different shards run
 * concurrently. Bounded: when the index cannot keep up, new work is refused instead of growing
 * memory without limit.
 */

export type Task = () => Promise<void>;

export class ShardQueue {
  private tasks: Array<Task | undefined> = [];
  private head = 0;
  private running = false;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly limit: number,
    private readonly onError: (err: unknown) => void,
  ) {}

  get length(): number {
    return this.tasks.length - this.head;
  }

  /** Queues a task; false when the queue is full (the task is not run). */
  push(task: Task): boolean {
    if (this.length >= this.limit) return false;
    this.tasks.push(task);
    if (!this.running) {
      this.running = true;
      void this.drain();
    }
    return true;
  }

  /** Resolves once every queued task has finished. */
  idle(): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async drain(): Promise<void> {
    while (this.head < this.tasks.length) {
      const task = this.tasks[this.head]!;
      this.tasks[this.head++] = undefined; // release the closure while later tasks wait
      try {
        await task();
      } catch (err) {
        this.onError(err);
      }
      if (this.head > 1024 && this.head * 2 > this.tasks.length) {
        this.tasks = this.tasks.slice(this.head);
        this.head = 0;
      }
    }
    this.tasks = [];
    this.head = 0;
    this.running = false;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

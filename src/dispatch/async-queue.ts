/**
 * A push-to-pull queue: callbacks (job sinks, store listeners) push, one async generator pulls.
 * Ending it with an error makes the pulling loop throw, which is how a stream handler learns that
 * its job failed or its client went away while it was waiting.
 */
export class AsyncQueue<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private waiter: (() => void) | undefined;
  private ended = false;
  private error: unknown;

  /** Items waiting to be pulled. */
  get size(): number {
    return this.items.length;
  }

  /** Whether close() or fail() was called. */
  get closed(): boolean {
    return this.ended;
  }

  /** Appends an item; ignored after close. */
  push(item: T): void {
    if (this.ended) return;
    this.items.push(item);
    this.wake();
  }

  /** Ends the queue once the items already pushed are pulled. */
  close(): void {
    this.ended = true;
    this.wake();
  }

  /** Ends the queue with an error, thrown after the items already pushed are pulled. */
  fail(err: unknown): void {
    if (this.ended) return;
    this.error = err;
    this.close();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      const item = this.items.shift();
      if (item !== undefined) {
        yield item;
        continue;
      }
      if (this.ended) {
        if (this.error !== undefined) throw this.error;
        return;
      }
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
      });
    }
  }
}

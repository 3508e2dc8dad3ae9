/**
 * An unbounded async queue with a single consumer: producers push, the consumer iterates until
 * close(). Used to feed a server-streaming generator from callbacks (node stream, WatchNodes).
 */
export class Channel<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private waiter: ((r: IteratorResult<T>) => void) | undefined;
  private failer: ((e: unknown) => void) | undefined;
  private done = false;
  private error: unknown;

  /** Queues an item; ignored after close. */
  push(item: T): void {
    if (this.done) return;
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      this.failer = undefined;
      w({ value: item, done: false });
    } else this.items.push(item);
  }

  /** Ends the stream after queued items drain; with an error, the consumer throws it. */
  close(error?: unknown): void {
    if (this.done) return;
    this.done = true;
    this.error = error;
    if (this.items.length === 0) this.settle();
  }

  /** Items queued and not yet taken. */
  get size(): number {
    return this.items.length;
  }

  get closed(): boolean {
    return this.done;
  }

  private settle(): void {
    const w = this.waiter;
    const f = this.failer;
    this.waiter = undefined;
    this.failer = undefined;
    if (this.error !== undefined) f?.(this.error);
    else w?.({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => {
        if (this.items.length > 0) return Promise.resolve({ value: this.items.shift() as T, done: false });
        if (this.done)
          return this.error !== undefined
            ? Promise.reject(this.error)
            : Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve, reject) => {
          this.waiter = resolve;
          this.failer = reject;
        });
      },
      return: () => {
        this.done = true;
        this.items.length = 0;
        return Promise.resolve({ value: undefined, done: true });
      },
      // Connect's client calls throw() on the request iterable when the call fails.
      throw: (e?: unknown) => {
        this.done = true;
        this.items.length = 0;
        return Promise.reject(e);
      },
    };
  }
}

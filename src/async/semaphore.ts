// A counting semaphore: at most N holders at once, the rest wait in order.

export class Semaphore {
  private waiting: (() => void)[] = [];
  constructor(private free: number) {}

  /** Run `fn` once a slot is free, and free the slot when it settles. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    }
  }
}

/**
 * Sends what it is handed in batches, one batch in flight at a time: with none in flight, an item
 * goes once this turn of the event loop has done its work; items handed over while one is in
 * flight go together in the next. At low load each item costs a round trip of its own and waits
 * for nobody; under load the round trips per item fall as the load rises. For fire-and-forget
 * statements, such as notifications sent after a commit.
 */
export class BatchSender<T> {
  private readonly unsent: T[] = [];
  private sending: Promise<void> | null = null;

  /** `send` may reject: the batch is then given to `failed`, and the next one still goes. */
  constructor(
    private readonly send: (batch: T[]) => Promise<unknown>,
    private readonly maxBatch: number,
    private readonly failed: (error: unknown, batch: T[]) => void,
  ) {}

  /** Resolves once everything handed over so far has been sent (or has failed); never rejects. */
  add(item: T): Promise<void> {
    this.unsent.push(item);
    this.sending ??= this.sendUnsent();
    return this.sending;
  }

  private async sendUnsent(): Promise<void> {
    // After what this turn of the event loop is doing (the answers it writes go first), and so that
    // `sending` is set before this can end (even were `send` to throw at once).
    await new Promise((next) => setImmediate(next));
    try {
      while (this.unsent.length > 0) {
        const batch = this.unsent.splice(0, this.maxBatch);
        try {
          await this.send(batch);
        } catch (error) {
          this.failed(error, batch);
        }
      }
    } finally {
      this.sending = null;
    }
  }
}

/**
 * When a batched write starts: at once, or once its first entry has waited a linger for company.
 * Batches whose cost is mostly per statement (audit rows, replay records) linger under load so
 * that one statement carries more rows; at most one timer is pending.
 */
export class Linger {
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly start: () => void) {}

  /** Starts now when `now` or `lingerMs` ≤ 0 (a pending linger is cancelled), else once the pending or a new linger of `lingerMs` ends. */
  schedule(now: boolean, lingerMs: number): void {
    if (now || lingerMs <= 0) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      this.start();
    } else {
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        this.start();
      }, lingerMs);
    }
  }
}

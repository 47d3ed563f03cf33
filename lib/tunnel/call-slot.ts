import type { Observable, Subscription } from 'rxjs';

/**
 * Holds at most one running request of a state machine: its result is handed over on
 * completion, `cancel()` drops it. Safe when the source completes synchronously during
 * `start`, and when the result handler starts the next request in the same slot.
 */
export class CallSlot {
  private running: Subscription | undefined;
  private generation = 0;

  get busy(): boolean {
    return this.running !== undefined;
  }

  start<T>(source: Observable<T>, onResult: (value: T) => void, onError: (error: unknown) => void): void {
    this.cancel();
    const generation = ++this.generation;
    let settled = false;
    let last: { value: T } | undefined;
    const settle = (): boolean => {
      if (settled || generation !== this.generation) return false;
      settled = true;
      this.running = undefined;
      return true;
    };
    const subscription = source.subscribe({
      next: (value) => {
        last = { value };
      },
      error: (error: unknown) => {
        if (settle()) onError(error);
      },
      complete: () => {
        if (!settle()) return;
        if (last === undefined) onError(new Error('the call completed without a response'));
        else onResult(last.value);
      },
    });
    if (!settled && generation === this.generation) this.running = subscription;
  }

  /** Like `start` for calls whose response carries nothing (Checkpoint, Shutdown). */
  startVoid(source: Observable<unknown>, onDone: () => void, onError: (error: unknown) => void): void {
    this.cancel();
    const generation = ++this.generation;
    let settled = false;
    const settle = (): boolean => {
      if (settled || generation !== this.generation) return false;
      settled = true;
      this.running = undefined;
      return true;
    };
    const subscription = source.subscribe({
      error: (error: unknown) => {
        if (settle()) onError(error);
      },
      complete: () => {
        if (settle()) onDone();
      },
    });
    if (!settled && generation === this.generation) this.running = subscription;
  }

  cancel(): void {
    this.generation++;
    const running = this.running;
    this.running = undefined;
    running?.unsubscribe();
  }
}

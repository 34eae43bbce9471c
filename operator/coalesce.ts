// Coalescing of change events: a burst of changes costs one run. A run starts `holdOffMs` after
// the last event, but never later than `maxDelayMs` after the first one of the burst.
export interface Coalescer {
  /** Notes that something changed. */
  trigger(): void;
  /** Cancels a pending run. */
  cancel(): void;
}

export function coalesce(run: () => void, holdOffMs: number, maxDelayMs: number): Coalescer {
  let timer: NodeJS.Timeout | null = null;
  let firstEventAt = 0;
  const fire = (): void => {
    timer = null;
    run();
  };
  return {
    trigger() {
      const now = performance.now();
      if (timer === null) firstEventAt = now;
      else clearTimeout(timer);
      const wait = Math.max(0, Math.min(holdOffMs, firstEventAt + maxDelayMs - now));
      timer = setTimeout(fire, wait);
    },
    cancel() {
      if (timer !== null) clearTimeout(timer);
      timer = null;
    },
  };
}

// Coalescing of change events. The first event after a quiet spell runs at once (on the next turn
// of the event loop, so the events of one tick still make one run): a lone change pays no
// hold-off. Events that come while runs are recent are batched: a run starts `holdOffMs` after the
// last of them, but never later than `maxDelayMs` after the first, so a burst costs few runs.
export interface Coalescer {
  /** Notes that something changed. */
  trigger(): void;
  /** Cancels a pending run. */
  cancel(): void;
}

export function coalesce(run: () => void, holdOffMs: number, maxDelayMs: number): Coalescer {
  let timer: NodeJS.Timeout | null = null;
  let firstEventAt = 0;
  let lastRunAt = -Infinity;
  const fire = (): void => {
    timer = null;
    lastRunAt = performance.now();
    run();
  };
  return {
    trigger() {
      const now = performance.now();
      if (timer === null && now - lastRunAt >= holdOffMs) {
        timer = setTimeout(fire, 0);
        return;
      }
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

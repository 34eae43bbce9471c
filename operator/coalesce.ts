// Coalescing of change events. The first event after a quiet spell runs at once (on the next turn
// of the event loop, so the events of one tick still make one run): a lone change pays no
// hold-off. Events that come while runs are recent are batched: a run starts a hold-off after the
// last of them (and the end of the last run), but never later than `maxDelayMs` after the first, so a burst costs few runs. The
// hold-off is as long as the last run took, between `minHoldOffMs` and `holdOffMs`: cheap runs (an
// incremental change) follow each other closely, costly ones (everything computed again) are spaced
// so that applying changes takes at most about half the time.
export interface Coalescer {
  /** Notes that something changed. */
  trigger(): void;
  /** Cancels a pending run. */
  cancel(): void;
}

export function coalesce(run: () => void, holdOffMs: number, maxDelayMs: number, minHoldOffMs = holdOffMs): Coalescer {
  let timer: NodeJS.Timeout | null = null;
  let firstEventAt = 0;
  /** When the last run ended. */
  let lastRunAt = -Infinity;
  let holdOff = holdOffMs;
  const fire = (): void => {
    timer = null;
    const started = performance.now();
    try {
      run();
    } finally {
      lastRunAt = performance.now();
      holdOff = Math.min(holdOffMs, Math.max(minHoldOffMs, lastRunAt - started));
    }
  };
  return {
    trigger() {
      const now = performance.now();
      if (timer === null && now - lastRunAt >= holdOff) {
        timer = setTimeout(fire, 0);
        return;
      }
      if (timer === null) firstEventAt = now;
      else clearTimeout(timer);
      const wait = Math.max(0, Math.min(holdOff, firstEventAt + maxDelayMs - now));
      timer = setTimeout(fire, wait);
    },
    cancel() {
      if (timer !== null) clearTimeout(timer);
      timer = null;
    },
  };
}

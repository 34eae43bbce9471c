// Coalescing: a lone change runs at once, a burst of change events costs one run, and a long burst still runs within the maximum delay.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { coalesce } from '../../operator/coalesce.ts';

const HOLD_OFF_MS = 100;
const MAX_DELAY_MS = 300;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('coalesce', () => {
  it('runs once for a burst of 1,000 events', async () => {
    let runs = 0;
    const coalescer = coalesce(() => runs++, HOLD_OFF_MS, MAX_DELAY_MS);
    for (let i = 0; i < 1000; i++) coalescer.trigger();
    await sleep(HOLD_OFF_MS * 5);
    assert.equal(runs, 1);
  });

  it('runs within the maximum delay while events keep coming, and applies the last events once they stop', async () => {
    const runAt: number[] = [];
    const started = performance.now();
    const coalescer = coalesce(() => runAt.push(performance.now() - started), HOLD_OFF_MS, MAX_DELAY_MS);
    // An event every 10 ms for 3 maximum delays: the hold-off alone would never let it run.
    let triggers = 0;
    let lastTriggerAt = 0;
    while (performance.now() - started < MAX_DELAY_MS * 3) {
      coalescer.trigger();
      lastTriggerAt = performance.now() - started;
      triggers++;
      await sleep(10);
    }
    const burstRuns = runAt.length;
    await sleep(HOLD_OFF_MS * 3);
    assert.ok(burstRuns >= 2, `ran ${burstRuns} times during a burst of 3 maximum delays`);
    // Bounded loosely, so a stalled machine can't fail it; uncoalesced it would run once per event.
    assert.ok(burstRuns <= triggers / 5, `ran ${burstRuns} times for ${triggers} events: the burst was not coalesced`);
    // The last events are applied: by a run after they stopped (or by one that fell right after the last of them).
    assert.ok((runAt.at(-1) ?? 0) >= lastTriggerAt, `last run at ${runAt.at(-1)} ms, last event at ${lastTriggerAt} ms`);
    assert.ok(runAt.length <= burstRuns + 1, 'at most one run once the burst stops');
  });

  it('runs the first event after a quiet spell at once, without waiting for the hold-off', async () => {
    let runs = 0;
    const coalescer = coalesce(() => runs++, HOLD_OFF_MS, MAX_DELAY_MS);
    coalescer.trigger();
    coalescer.trigger();
    // Timers fire in order: the run is due before this 5 ms one, well inside the hold-off.
    await sleep(5);
    assert.equal(runs, 1, 'the events of one tick ran together, at once');
    coalescer.trigger();
    await sleep(5);
    assert.equal(runs, 1, 'an event right after a run waits for the hold-off');
    await sleep(HOLD_OFF_MS * 3);
    assert.equal(runs, 2);
  });

  it('does not run after cancel', async () => {
    let runs = 0;
    const coalescer = coalesce(() => runs++, HOLD_OFF_MS, MAX_DELAY_MS);
    coalescer.trigger();
    coalescer.cancel();
    await sleep(HOLD_OFF_MS * 3);
    assert.equal(runs, 0);
  });
});

describe('coalesce with a hold-off that follows the cost of the last run', () => {
  it('runs a change that follows a cheap run after the shortest hold-off, not the longest', async () => {
    const runAt: number[] = [];
    const started = performance.now();
    const coalescer = coalesce(() => runAt.push(performance.now() - started), HOLD_OFF_MS, MAX_DELAY_MS, 2);
    coalescer.trigger();
    await sleep(5);
    coalescer.trigger();
    await sleep(HOLD_OFF_MS / 2);
    assert.equal(runAt.length, 2, `runs at ${runAt.map((at) => at.toFixed(1)).join(', ')} ms: the second change waited for the whole hold-off`);
  });

  it('spaces runs by as long as the last one took, up to the longest hold-off', async () => {
    const runAt: number[] = [];
    const started = performance.now();
    const busy = (ms: number) => {
      const until = performance.now() + ms;
      while (performance.now() < until);
    };
    const coalescer = coalesce(() => {
      runAt.push(performance.now() - started);
      busy(40);
    }, HOLD_OFF_MS, MAX_DELAY_MS, 2);
    coalescer.trigger();
    await sleep(1);
    coalescer.trigger();
    await sleep(HOLD_OFF_MS * 2);
    assert.equal(runAt.length, 2);
    const gap = (runAt[1] as number) - (runAt[0] as number);
    // The second event came as the first run ended, so it waited about 40 ms more: at least the run's own length.
    assert.ok(gap >= 40 + 40 - 5, `runs ${gap.toFixed(1)} ms apart: the hold-off did not follow the 40 ms run`);
  });
});

// aggregateMetrics: the primary's /metrics with workers, from each process's getMetricsAsJSON().
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createMetrics } from '../../proxy/metrics.ts';
import { aggregateMetrics } from '../../proxy/workers.ts';

const ALPHA = { namespace: 'default', ingress: 'alpha', service: 'alpha' };

describe('aggregateMetrics', () => {
  it('adds up the workers\' request counters, keeps each worker\'s count under its slot, and includes the primary\'s own metrics', async () => {
    const primary = createMetrics();
    primary.configChanges.inc({ result: 'applied' });
    primary.configLastChangeSuccessful.set(1);
    const workers = [createMetrics(), createMetrics()];
    for (let i = 0; i < 3; i++) workers[0]?.routes.count(ALPHA, 200);
    for (let i = 0; i < 4; i++) workers[1]?.routes.count(ALPHA, 200);
    workers[1]?.routes.count(ALPHA, 502);

    const merged = aggregateMetrics(
      await primary.registry.getMetricsAsJSON(),
      await Promise.all(workers.map(async (worker, slot) => ({ slot, metrics: await worker.registry.getMetricsAsJSON() }))),
    );
    const text = await merged.metrics();

    assert.match(text, /^pier_requests_total\{namespace="default",ingress="alpha",service="alpha",status="200"\} 7$/m);
    assert.match(text, /^pier_requests_total\{namespace="default",ingress="alpha",service="alpha",status="502"\} 1$/m);
    assert.match(text, /^pier_worker_requests_total\{worker="0",namespace="default",ingress="alpha",service="alpha",status="200"\} 3$/m);
    assert.match(text, /^pier_worker_requests_total\{worker="1",namespace="default",ingress="alpha",service="alpha",status="200"\} 4$/m);
    assert.match(text, /^pier_config_changes_total\{result="applied"\} 1$/m);
    // The workers register the gauge too but never set it: summed, the primary's value stands.
    assert.match(text, /^pier_config_last_change_successful 1$/m);
  });
});

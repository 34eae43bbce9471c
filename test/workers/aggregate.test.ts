// aggregateMetrics: the primary's /metrics with workers, from each process's getMetricsAsJSON().
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createMetrics } from '../../proxy/metrics.ts';
import { ProxyMetrics, proxyMetricsJson } from '../../proxy/proxy-metrics.ts';
import { aggregateMetrics } from '../../proxy/workers.ts';

const ALPHA = { namespace: 'default', ingress: 'alpha', service: 'alpha' };

describe('aggregateMetrics', () => {
  it('adds up the workers\' request counters, keeps each worker\'s count under its slot, and includes the primary\'s own metrics', async () => {
    const primary = createMetrics();
    primary.configChanges.inc({ result: 'applied' });
    primary.configLastChangeSuccessful.set(1);
    const workers = [new ProxyMetrics(), new ProxyMetrics()];
    for (let i = 0; i < 3; i++) workers[0]?.routes.count(ALPHA, 200);
    for (let i = 0; i < 4; i++) workers[1]?.routes.count(ALPHA, 200);
    workers[1]?.routes.count(ALPHA, 502);

    const merged = aggregateMetrics(
      await primary.registry.getMetricsAsJSON(),
      workers.map((worker, slot) => ({ slot, metrics: proxyMetricsJson(worker) })),
    );
    const text = await merged.metrics();

    assert.match(text, /^pier_requests_total\{namespace="default",ingress="alpha",service="alpha",status="200"\} 7$/m);
    assert.match(text, /^pier_requests_total\{namespace="default",ingress="alpha",service="alpha",status="502"\} 1$/m);
    assert.match(text, /^pier_worker_requests_total\{worker="0",namespace="default",ingress="alpha",service="alpha",status="200"\} 3$/m);
    assert.match(text, /^pier_worker_requests_total\{worker="1",namespace="default",ingress="alpha",service="alpha",status="200"\} 4$/m);
    assert.match(text, /^pier_config_changes_total\{result="applied"\} 1$/m);
    assert.match(text, /^pier_config_last_change_successful 1$/m);
  });

  it('sums refused certificates and process CPU and memory over the primary and the workers, which send plain JSON without prom-client', async () => {
    const primary = createMetrics();
    primary.tlsCertificatesRefused.inc();
    const workers = [new ProxyMetrics(), new ProxyMetrics()];
    workers[0]?.tlsCertificatesRefused.inc(2);
    const workerJson = workers.map((worker, slot) => ({ slot, metrics: proxyMetricsJson(worker) }));
    const workerRss = workerJson.map(({ metrics }) => metrics.find((metric) => metric.name === 'pier_process_resident_memory_bytes')?.values[0]?.value ?? 0);
    const text = await aggregateMetrics(await primary.registry.getMetricsAsJSON(), workerJson).metrics();

    assert.match(text, /^pier_tls_certificates_refused_total 3$/m);
    const summedRss = Number(/^pier_process_resident_memory_bytes (\d+)$/m.exec(text)?.[1]);
    assert.ok(summedRss > workerRss[0]! + workerRss[1]!, `${summedRss} should include both workers' ${workerRss.join(' + ')} and the primary's own`);
    assert.match(text, /^pier_process_cpu_seconds_total [\d.e+-]+$/m);
  });
});

// Control-plane benchmark: how long computeRoutes takes, and how much memory its result holds,
// for N Ingresses of one host and three paths each (each path its own Service with 3 endpoints);
// then what one change costs the incremental computation Pier runs (operator/routes/incremental.ts):
// the store's snapshot and the update, for one Ingress's path changed and one EndpointSlice moved.
// Usage: node --expose-gc bench/compute-routes.ts [N ...]   (default 1000 10000)
import { computeRoutes } from '../operator/routes/compute.ts';
import { IncrementalRoutes } from '../operator/routes/incremental.ts';
import { Store } from '../operator/store.ts';
import { parseObject, type Kind, type KubeObject } from '../operator/model.ts';
import { RouteTable } from '../proxy/route-table.ts';
import { endpointChanges } from '../operator/routes/endpoint-changes.ts';
import type { RouteTableSpec, UpstreamSpec } from '../operator/routes/types.ts';

const PATHS = ['/', '/api', '/static'];
const ROUNDS = 5;

function checked(kind: Kind, raw: unknown): KubeObject {
  const result = parseObject(raw, kind);
  if (!result.ok) throw new Error(result.error);
  return result.object;
}

function objectsFor(count: number): KubeObject[] {
  const objects: KubeObject[] = [checked('IngressClass', { apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name: 'pier' }, spec: { controller: 'pier.dev/ingress-controller' } })];
  for (let i = 0; i < count; i++) {
    const namespace = `team-${i % 100}`;
    objects.push(
      checked('Ingress', {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'Ingress',
        metadata: { name: `app-${i}`, namespace, creationTimestamp: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString() },
        spec: {
          ingressClassName: 'pier',
          rules: [{ host: `app-${i}.example.com`, http: { paths: PATHS.map((path, p) => ({ path, pathType: 'Prefix', backend: { service: { name: `svc-${i}-${p}`, port: { number: 80 } } } })) } }],
        },
      }),
    );
    PATHS.forEach((_, p) => {
      objects.push(checked('Service', { apiVersion: 'v1', kind: 'Service', metadata: { name: `svc-${i}-${p}`, namespace }, spec: { ports: [{ name: 'http', port: 80 }] } }));
      objects.push(
        checked('EndpointSlice', {
          apiVersion: 'discovery.k8s.io/v1',
          kind: 'EndpointSlice',
          metadata: { name: `svc-${i}-${p}-a`, namespace, labels: { 'kubernetes.io/service-name': `svc-${i}-${p}` } },
          addressType: 'IPv4',
          ports: [{ name: 'http', port: 8080 }],
          endpoints: [1, 2, 3].map((e) => ({ addresses: [`10.${i % 250}.${p}.${e}`], conditions: { ready: true } })),
        }),
      );
    });
  }
  return objects;
}

const options = {
  controllerClass: 'pier.dev/ingress-controller',
  ingressClass: 'pier',
  watchIngressWithoutClass: false,
  defaultBackendService: null,
  annotationsPrefix: 'nginx.ingress.kubernetes.io',
  now: Date.now(),
};

/** The table after one pod of the last Service moved: a new address for its first endpoint. */
function withOneEndpointMoved(table: RouteTableSpec): RouteTableSpec {
  const last = table.upstreams[table.upstreams.length - 1] as UpstreamSpec;
  const moved = { ...last, endpoints: [{ address: '10.255.255.254', port: 8080 }, ...last.endpoints.slice(1)] };
  return { ...table, upstreams: [...table.upstreams.slice(0, -1), moved] };
}

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

const CHANGES = 50;

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

/** The incremental computation: its first run over everything, then CHANGES changes of each kind, timed from the store's write to the result. */
function incrementalRow(count: number, objects: readonly KubeObject[]): string {
  const store = Store.fromObjects(objects);
  const engine = new IncrementalRoutes(options);
  let started = performance.now();
  engine.update(store.snapshot(), options.now);
  const firstMs = performance.now() - started;
  const ingressMs: number[] = [];
  const sliceMs: number[] = [];
  for (let change = 0; change < CHANGES; change++) {
    const i = (change * 7919) % count;
    const namespace = `team-${i % 100}`;
    started = performance.now();
    store.set(checked('Ingress', {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name: `app-${i}`, namespace, creationTimestamp: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString() },
      spec: { ingressClassName: 'pier', rules: [{ host: `app-${i}.example.com`, http: { paths: [{ path: `/v${change}`, pathType: 'Prefix', backend: { service: { name: `svc-${i}-0`, port: { number: 80 } } } }] } }] },
    }));
    const result = engine.update(store.snapshot(), options.now);
    ingressMs.push(performance.now() - started);
    if (!result.table.virtualHosts.some((host) => host.host === `app-${i}.example.com` && host.routes[0]?.path === `/v${change}`)) throw new Error('the change did not route');
    started = performance.now();
    store.set(checked('EndpointSlice', {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: `svc-${i}-1-a`, namespace, labels: { 'kubernetes.io/service-name': `svc-${i}-1` } },
      addressType: 'IPv4',
      ports: [{ name: 'http', port: 8080 }],
      endpoints: [{ addresses: [`10.254.${change}.1`], conditions: { ready: true } }],
    }));
    engine.update(store.snapshot(), options.now);
    sliceMs.push(performance.now() - started);
  }
  return `| ${count} | ${firstMs.toFixed(0)} | ${median(ingressMs).toFixed(2)} / ${percentile(ingressMs, 99).toFixed(2)} | ${median(sliceMs).toFixed(2)} / ${percentile(sliceMs, 99).toFixed(2)} |`;
}

const counts = process.argv.slice(2).map(Number).filter((n) => n > 0);
const rows: string[] = [];
const incrementalRows: string[] = [];
for (const count of counts.length > 0 ? counts : [1000, 10_000]) {
  const objects = objectsFor(count);
  const snapshot = Store.fromObjects(objects).snapshot();
  const computeMs: number[] = [];
  const compileMs: number[] = [];
  /** An endpoint change as the Runtime handles it: diff the upstreams, then update the compiled table in place. */
  const endpointUpdateMs: number[] = [];
  let heapDelta = 0;
  const kept: unknown[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    gc();
    const heapBefore = process.memoryUsage().heapUsed;
    let started = performance.now();
    const result = computeRoutes(snapshot, options);
    computeMs.push(performance.now() - started);
    started = performance.now();
    const table = new RouteTable(result.table);
    compileMs.push(performance.now() - started);
    if (round === 0) kept.push(result, table);
    gc();
    // Measured on the first round only: later rounds start with the last round's result still
    // reachable from V8's optimized frames, which hides their size.
    if (round === 0) heapDelta = process.memoryUsage().heapUsed - heapBefore;
    if (table.match(`app-${count - 1}.example.com`, '/api/x') === null) throw new Error('benchmark table does not route');
    const next = withOneEndpointMoved(result.table);
    started = performance.now();
    const changes = endpointChanges(result.table, next);
    if (changes?.length !== 1 || !table.updateEndpoints(changes)) throw new Error('the endpoint change was not found');
    endpointUpdateMs.push(performance.now() - started);
  }
  rows.push(
    `| ${count} | ${median(computeMs).toFixed(1)} | ${Math.min(...computeMs).toFixed(1)} | ${median(compileMs).toFixed(1)} | ${median(endpointUpdateMs).toFixed(2)} | ${(heapDelta / 1024 / 1024).toFixed(1)} | ${(process.memoryUsage().rss / 1024 / 1024).toFixed(0)} |`,
  );
  kept.length = 0;
  gc();
  incrementalRows.push(incrementalRow(count, objects));
}
console.log(`computeRoutes, ${ROUNDS} rounds each, one host and ${PATHS.length} paths per Ingress (Node ${process.version})\n`);
console.log('| Ingresses | computeRoutes median ms | min ms | compile table median ms | one endpoint moved: diff + update in place, median ms | result + table heap MiB | process RSS MiB |');
console.log('|---|---|---|---|---|---|---|');
for (const row of rows) console.log(row);
console.log(`\nThe incremental computation: its first run, then ${CHANGES} changes of each kind, timed from the store's write to the result\n`);
console.log('| Ingresses | first run ms | one Ingress path changed, median / p99 ms | one EndpointSlice moved, median / p99 ms |');
console.log('|---|---|---|---|');
for (const row of incrementalRows) console.log(row);
if (!(globalThis as { gc?: unknown }).gc) console.log('\n(run with node --expose-gc for the heap figures)');

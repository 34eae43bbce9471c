// One proxy worker process: a ProxyServer on the ports shared through node:cluster, driven by the
// primary over IPC (see workers.ts for the protocol). It binds only after it has the primary's
// current table, then applies each change the primary sends to the table it has (so hosts that
// didn't change keep their compiled routes), answers heartbeats and metrics requests, and drains
// and exits when told to, or when its primary goes away (the IPC channel closes), so it never
// outlives the primary.
import { createLogger } from './log.ts';
import { ProxyMetrics, proxyMetricsJson } from './proxy-metrics.ts';
import { ProxyServer } from './server.ts';
import type { RouteTableSpec } from './route-spec.ts';
import { applyTableDelta, withEndpointUpdates } from './table-delta.ts';
import type { PrimaryMessage, WorkerMessage } from './workers.ts';

const EXIT_CANNOT_SERVE = 1;

export function runWorker(): void {
  let log = createLogger('info');
  let proxy: ProxyServer | null = null;
  let metrics: ProxyMetrics | null = null;
  /**
   * The last table the primary sent (with its endpoint updates), which its next delta applies to;
   * kept even when swapping it in failed, as the primary computes from it all the same.
   */
  let spec: RouteTableSpec | null = null;
  let drainMs = 0;
  let stopping = false;

  const send = (message: WorkerMessage, sent?: () => void): void => {
    if (process.connected) process.send?.(message, undefined, undefined, sent);
  };
  const stop = async (graceMs: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await proxy?.close(graceMs);
    process.exit(0);
  };

  const swap = (next: RouteTableSpec): void => {
    spec = next;
    try {
      for (const refused of proxy?.swap(next) ?? []) log.error(`proxy worker ${process.pid} serves the default certificate instead: ${refused}`);
    } catch (error) {
      log.error(`proxy worker ${process.pid} kept its table: ${(error as Error).message}`);
    }
  };

  process.on('message', (message: PrimaryMessage) => {
    switch (message.type) {
      case 'start': {
        log = createLogger(message.logLevel);
        drainMs = message.drainMs;
        metrics = new ProxyMetrics();
        proxy = new ProxyServer(message.options, metrics);
        // The table first, then the ports: this worker never answers from an empty or old table.
        spec = message.spec;
        if (spec) proxy.swap(spec);
        proxy.listen().then(
          (ports) => send({ type: 'ready', ports }),
          (error: Error) => {
            stopping = true;
            send({ type: 'failed', message: error.message }, () => process.exit(EXIT_CANNOT_SERVE));
          },
        );
        return;
      }
      case 'swap':
        swap(message.spec);
        return;
      case 'delta':
        // The primary sends deltas only to a worker it has sent a table.
        if (spec === null) log.error(`proxy worker ${process.pid} got a table change before any table`);
        else swap(applyTableDelta(spec, message.delta));
        return;
      case 'endpoints':
        if (spec !== null) spec = withEndpointUpdates(spec, message.upstreams);
        // It has every table the primary swapped in, in order, so the upstreams are there.
        if (proxy && !proxy.updateEndpoints(message.upstreams)) log.error(`proxy worker ${process.pid} has no upstream for an endpoint update`);
        return;
      case 'ticketKeys':
        proxy?.rotateTicketKeys(message.keys);
        return;
      case 'ping':
        send({ type: 'pong', id: message.id });
        return;
      case 'metrics':
        send({ type: 'metrics', id: message.id, metrics: metrics ? proxyMetricsJson(metrics) : [] });
        return;
      case 'stop':
        void stop(message.drainMs);
        return;
    }
  });
  // The primary is gone (crashed, or SIGKILLed): finish what is under way, then exit.
  process.on('disconnect', () => void stop(drainMs));
  // Shutdown is the primary's to run: a Ctrl-C reaches the whole process group, and a worker that
  // died on it would drop requests the primary's own drain is waiting for.
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => undefined);
  send({ type: 'hello' });
}

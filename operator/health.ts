// The health and metrics port (10254): /healthz for probes, /metrics for Prometheus, and the dashboard (dashboard.ts).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export interface HealthCheck {
  /** Null when healthy, else why not, shown in the 500 body. */
  (): string | null;
}

/** What /metrics serves: a prom-client Registry, or the workers' metrics aggregated on request. */
export interface MetricsSource {
  readonly contentType: string;
  metrics(): Promise<string>;
}

/** More paths on the same port (the dashboard): true when it answered the request. */
export type ExtraHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

export function createHealthServer(check: HealthCheck, registry: MetricsSource, extra: ExtraHandler | null = null): Server {
  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (extra !== null && extra(req, res)) return;
    if (path === '/healthz') {
      const problem = check();
      const body = problem === null ? 'ok\n' : `${problem}\n`;
      res.writeHead(problem === null ? 200 : 500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(body);
      return;
    }
    if (path === '/metrics') {
      registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': registry.contentType });
          res.end(text);
        },
        (error: Error) => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(`${error.message}\n`);
        },
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found\n');
  });
}

// Real sockets for the data-plane tests: node:http upstreams on 127.0.0.1 port 0, a real
// ProxyServer on port 0, a route table spec for host → endpoints, and a small HTTP client that
// returns raw headers. Everything started here is closed by closeAll().
import { createServer, request, type Agent, type IncomingHttpHeaders, type IncomingMessage, type RequestListener, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Readable } from 'node:stream';
import type { Endpoint, RouteTableSpec } from '../../operator/routes/types.ts';
import { ProxyServer, type BoundPorts } from '../../proxy/server.ts';
import { createMetrics, type PierMetrics } from '../../proxy/metrics.ts';
import type { Timeouts } from '../../proxy/forward.ts';

export const LOCALHOST = '127.0.0.1';

export interface Upstream {
  readonly server: Server;
  readonly port: number;
  readonly endpoint: Endpoint;
  /** Sockets the upstream has accepted, open or closed, in order. */
  readonly sockets: Socket[];
  close(): Promise<void>;
}

/** Things to close after a test, newest first. */
export class Resources {
  readonly #closers: (() => Promise<void> | void)[] = [];

  add(close: () => Promise<void> | void): void {
    this.#closers.push(close);
  }

  async closeAll(): Promise<void> {
    const closers = this.#closers.splice(0).reverse();
    for (const close of closers) await close();
  }
}

export async function startUpstream(resources: Resources, handler: RequestListener): Promise<Upstream> {
  const server = createServer(handler);
  const sockets: Socket[] = [];
  server.on('connection', (socket: Socket) => sockets.push(socket));
  await new Promise<void>((resolve) => server.listen(0, LOCALHOST, resolve));
  const port = (server.address() as AddressInfo).port;
  const close = async (): Promise<void> => {
    server.closeAllConnections();
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));
  };
  resources.add(close);
  return { server, port, endpoint: { address: LOCALHOST, port }, sockets, close };
}

/** A port on 127.0.0.1 that nothing listens on (bound once, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, LOCALHOST, resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A table where `host` (every path) goes to one Service with these endpoints. */
export function tableFor(host: string, endpoints: readonly Endpoint[], service = 'web'): RouteTableSpec {
  const id = `default/${service}:80`;
  return {
    virtualHosts: [
      {
        host,
        routes: [{ path: '/', match: 'prefix', pathType: 'Prefix', upstream: id, ingress: { namespace: 'default', name: `${service}-ingress` } }],
        fallback: null,
      },
    ],
    defaultBackend: null,
    upstreams: [{ id, namespace: 'default', service, servicePort: '80', endpoints }],
  };
}

export interface Proxy {
  readonly server: ProxyServer;
  readonly ports: BoundPorts;
  readonly metrics: PierMetrics;
}

export const DEFAULT_TIMEOUTS: Timeouts = { connectMs: 1000, readMs: 3000, sendMs: 3000 };

export async function startProxy(resources: Resources, timeouts: Partial<Timeouts> = {}): Promise<Proxy> {
  const metrics = createMetrics();
  const server = new ProxyServer({ bindAddress: LOCALHOST, httpPort: 0, defaultServerPort: 0, timeouts: { ...DEFAULT_TIMEOUTS, ...timeouts } }, metrics);
  const ports = await server.listen();
  resources.add(() => server.close(200));
  return { server, ports, metrics };
}

export interface Response {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: string[];
  readonly body: Buffer;
}

export interface RequestOptions {
  readonly host?: string;
  readonly method?: string;
  readonly path?: string;
  /** Flat [name, value, ...] so the test controls order, case and duplicates. */
  readonly headers?: readonly string[];
  readonly body?: string | Buffer | Readable;
  readonly agent?: Agent | false;
}

/** One request to 127.0.0.1:port, with the whole response body read. */
export function send(port: number, options: RequestOptions = {}): Promise<Response> {
  return new Promise((resolve, reject) => {
    const headers = ['Host', options.host ?? 'app.example.com', ...(options.headers ?? [])];
    const req = request({ host: LOCALHOST, port, method: options.method ?? 'GET', path: options.path ?? '/', headers, agent: options.agent ?? false });
    req.on('error', reject);
    req.on('response', (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks) }));
    });
    const body = options.body;
    if (body === undefined) req.end();
    else if (typeof body === 'string' || Buffer.isBuffer(body)) req.end(body);
    else body.pipe(req);
  });
}

/** Every value of a header in a raw header list, case-insensitively. */
export function headerValues(rawHeaders: readonly string[], name: string): string[] {
  const values: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if ((rawHeaders[i] as string).toLowerCase() === name.toLowerCase()) values.push(rawHeaders[i + 1] as string);
  }
  return values;
}

/** Resolves when `check` is true, polling; rejects after `timeoutMs`. */
export async function eventually(check: () => boolean, timeoutMs = 3000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

// A real ProxyServer with its HTTPS port, fed by computeRoutes from Kubernetes objects, and the
// clients the TLS tests speak to it with: node:https (HTTP/1.1) and node:http2.
import { connect as connectHttp2, type ClientHttp2Session, type IncomingHttpHeaders } from 'node:http2';
import { request as httpsRequest, type Agent as HttpsAgent } from 'node:https';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import type { KubeObject } from '../../operator/model.ts';
import type { RouteComputation, RouteOptions } from '../../operator/routes/types.ts';
import { ProxyServer } from '../../proxy/server.ts';
import { createMetrics, type PierMetrics } from '../../proxy/metrics.ts';
import { endpointSlice, service } from '../helpers/objects.ts';
import { DEFAULT_TIMEOUTS, LOCALHOST, type Resources } from '../helpers/upstreams.ts';
import { compute } from '../routes/route-helpers.ts';

export interface TlsProxy {
  readonly server: ProxyServer;
  readonly metrics: PierMetrics;
  readonly http: number;
  readonly https: number;
  /** Computes routes from the objects (plus IngressClass pier) and swaps them in. */
  apply(objects: KubeObject[], options?: Partial<RouteOptions>): RouteComputation;
}

export async function startTlsProxy(resources: Resources, options: { ticketKeyRotationMs?: number } = {}): Promise<TlsProxy> {
  const metrics = createMetrics();
  const server = new ProxyServer({ bindAddress: LOCALHOST, httpPort: 0, httpsPort: 0, defaultServerPort: 0, timeouts: DEFAULT_TIMEOUTS, ...options }, metrics);
  const ports = await server.listen();
  resources.add(() => server.close(200));
  return {
    server,
    metrics,
    http: ports.http,
    https: ports.https as number,
    apply(objects, routeOptions = {}) {
      const result = compute(objects, { now: Date.now(), ...routeOptions });
      server.swap(result.table);
      return result;
    },
  };
}

/** Service `name` (port 80, named http) whose one endpoint is 127.0.0.1:port. */
export function localService(name: string, port: number): KubeObject[] {
  return [service(name, [{ name: 'http', port: 80 }]), endpointSlice(`${name}-1`, name, ['127.0.0.1'], [{ name: 'http', port }])];
}

export interface SimpleResponse {
  readonly status: number;
  readonly statusMessage: string;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

function collect(res: IncomingMessage, resolve: (response: SimpleResponse) => void, reject: (error: Error) => void): void {
  let body = '';
  res.setEncoding('utf8');
  res.on('data', (chunk: string) => (body += chunk));
  res.on('error', reject);
  res.on('end', () => resolve({ status: res.statusCode ?? 0, statusMessage: res.statusMessage ?? '', headers: res.headers, body }));
}

/** GET over HTTPS/1.1 with this SNI and Host (certificates not verified). */
export function httpsGet(port: number, host: string, path = '/', agent: HttpsAgent | false = false): Promise<SimpleResponse> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: LOCALHOST, port, path, servername: host, headers: { host }, rejectUnauthorized: false, agent });
    req.on('error', reject);
    req.on('response', (res) => collect(res, resolve, reject));
    req.end();
  });
}

/** GET over plain HTTP with this Host. */
export function httpGet(port: number, host: string, path = '/', headers: Record<string, string> = {}): Promise<SimpleResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: LOCALHOST, port, path, headers: { host, ...headers }, agent: false });
    req.on('error', reject);
    req.on('response', (res) => collect(res, resolve, reject));
    req.end();
  });
}

export function http2Session(port: number, host: string): ClientHttp2Session {
  return connectHttp2(`https://${LOCALHOST}:${port}`, { servername: host, rejectUnauthorized: false });
}

export interface Http2Response {
  readonly headers: IncomingHttpHeaders;
  readonly trailers: IncomingHttpHeaders | null;
  readonly body: string;
}

/** One request on an HTTP/2 session, with its trailers. */
export function http2Request(session: ClientHttp2Session, headers: Record<string, string | string[]>, body?: Buffer | string): Promise<Http2Response> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers, { endStream: body === undefined });
    let responseHeaders: IncomingHttpHeaders = {};
    let trailers: IncomingHttpHeaders | null = null;
    let text = '';
    stream.setEncoding('utf8');
    stream.on('response', (received) => (responseHeaders = received));
    stream.on('trailers', (received) => (trailers = received));
    stream.on('data', (chunk: string) => (text += chunk));
    stream.on('error', reject);
    stream.on('end', () => resolve({ headers: responseHeaders, trailers, body: text }));
    if (body !== undefined) stream.end(body);
  });
}

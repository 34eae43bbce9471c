// Pier's listeners: the HTTP port that routes requests, and the built-in default server that
// answers 404 (the seed's port 8181). The route table is one reference, swapped whole: a request
// reads it once when it starts, so a swap never affects a request already under way.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { Agent, type Dispatcher } from 'undici';
import type { RouteTableSpec } from '../operator/routes/types.ts';
import { RouteTable } from './route-table.ts';
import { hostForMatching, pathForMatching } from './request-path.ts';
import { clientAddressOf } from './headers.ts';
import { STATUS_NOT_FOUND } from './errors.ts';
import { forwardRequest, respondWithStatus, type ForwardDeps, type Timeouts } from './forward.ts';
import { tunnelUpgrade, writeRawResponse } from './upgrade.ts';
import type { PierMetrics } from './metrics.ts';

/** nginx's keepalive_timeout in ingress-nginx: how long an idle client connection is kept. */
const CLIENT_KEEP_ALIVE_MS = 75_000;
const HEALTH_PATH = '/healthz';

export interface ProxyOptions {
  readonly bindAddress: string;
  readonly httpPort: number;
  readonly defaultServerPort: number;
  readonly timeouts: Timeouts;
}

export interface BoundPorts {
  readonly http: number;
  readonly defaultServer: number;
}

export class ProxyServer {
  readonly #options: ProxyOptions;
  readonly #metrics: PierMetrics;
  readonly #dispatcher: Dispatcher;
  readonly #httpServer: Server;
  readonly #defaultServer: Server;
  readonly #sockets = new Set<Socket>();
  readonly #deps: ForwardDeps;
  #table: RouteTable = RouteTable.empty();

  constructor(options: ProxyOptions, metrics: PierMetrics) {
    this.#options = options;
    this.#metrics = metrics;
    this.#dispatcher = new Agent({
      connect: { timeout: options.timeouts.connectMs },
      headersTimeout: options.timeouts.readMs,
      bodyTimeout: options.timeouts.readMs,
    });
    this.#httpServer = createServer({ keepAliveTimeout: CLIENT_KEEP_ALIVE_MS }, (req, res) => this.#handle(req, res));
    this.#httpServer.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.#handleUpgrade(req, socket, head));
    this.#httpServer.on('connection', (socket: Socket) => this.#track(socket));
    this.#defaultServer = createServer((_req, res) => respondWithStatus(res, STATUS_NOT_FOUND));
    this.#deps = { dispatcher: this.#dispatcher, timeouts: options.timeouts, metrics };
  }

  /** Replaces the route table. Compiling happens first, so a bad spec throws and nothing changes. */
  swap(spec: RouteTableSpec): void {
    this.#table = new RouteTable(spec);
  }

  get table(): RouteTable {
    return this.#table;
  }

  async listen(): Promise<BoundPorts> {
    const { bindAddress, httpPort, defaultServerPort } = this.#options;
    const http = await listenOn(this.#httpServer, bindAddress, httpPort);
    const defaultServer = await listenOn(this.#defaultServer, bindAddress, defaultServerPort);
    return { http, defaultServer };
  }

  /** Stops accepting connections, lets requests under way finish (up to drainMs), then closes the rest. */
  async close(drainMs: number): Promise<void> {
    const closed = Promise.all([closeServer(this.#httpServer), closeServer(this.#defaultServer)]);
    this.#httpServer.closeIdleConnections();
    const deadline = setTimeout(() => {
      for (const socket of this.#sockets) socket.destroy();
      this.#httpServer.closeAllConnections();
      this.#defaultServer.closeAllConnections();
    }, drainMs);
    await closed;
    clearTimeout(deadline);
    await this.#dispatcher.close();
  }

  #track(socket: Socket): void {
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
  }

  #forwardedFor(req: IncomingMessage) {
    return { clientAddress: clientAddressOf(req.socket.remoteAddress), proto: 'http', port: req.socket.localPort ?? this.#options.httpPort };
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const table = this.#table;
    const host = hostForMatching(req.headers.host);
    const path = pathForMatching(req.url ?? '/');
    // Load-balancer health checks reach the default server, as in ingress-nginx.
    if (path === HEALTH_PATH && !table.hasNamedHost(host)) {
      res.writeHead(200, ['content-type', 'text/plain', 'content-length', '2', 'server', 'pier']);
      res.end('ok');
      return;
    }
    const target = table.match(host, path);
    if (!target) {
      respondWithStatus(res, STATUS_NOT_FOUND);
      this.#metrics.requests.inc({ namespace: '', ingress: '', service: '', status: String(STATUS_NOT_FOUND) });
      return;
    }
    forwardRequest(req, res, target, this.#forwardedFor(req), this.#deps);
  }

  #handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const target = this.#table.match(hostForMatching(req.headers.host), pathForMatching(req.url ?? '/'));
    if (!target) {
      writeRawResponse(socket, STATUS_NOT_FOUND);
      return;
    }
    tunnelUpgrade(req, socket, head, target, this.#forwardedFor(req), this.#deps);
  }
}

function listenOn(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
  });
}

// TCP and UDP services (the tcp/udp services ConfigMaps) and SSL passthrough: ports proxied as byte
// streams or datagrams, as ingress-nginx's nginx `stream` servers do. A table swap opens the ports
// it adds and stops listening on the ones it drops, without touching other ports or any connection
// under way (as an nginx reload leaves old connections to the old workers); a kept port just takes
// the new Service. Endpoints come from the Service's upstream, round-robin, and a connect failure
// moves on to the next endpoint (nginx's proxy_next_upstream, 3 tries). A stream or UDP flow idle
// for proxy-stream-timeout (600 s) is closed.
import { connect, createServer, type Server, type Socket } from 'node:net';
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { StreamSpec } from './route-spec.ts';
import type { Upstream } from './route-table.ts';
import type { Logger } from './log.ts';
import type { StreamLabels, StreamMetrics } from './proxy-metrics.ts';
import { proxyHeaderV1, readProxyHeader, type ProxiedAddress } from './proxy-protocol.ts';
import { nextUntried } from './forward.ts';

/** nginx stream's proxy_next_upstream_tries in ingress-nginx's template. */
const CONNECT_TRIES = 3;
/** How long a client may take to send its PROXY header (nginx's proxy_protocol_timeout is 30 s). */
const PROXY_HEADER_TIMEOUT_MS = 30_000;
/** Most UDP flows one port keeps; past it the least recently used is closed. */
const MAX_UDP_FLOWS = 10_000;

export interface StreamEnvironment {
  readonly bindAddress: string;
  readonly connectMs: number;
  readonly metrics: StreamMetrics;
  readonly log: Logger | null;
}

/** What a port serves now: swapped in place when the table changes. */
export interface StreamRoute {
  readonly spec: Pick<StreamSpec, 'acceptProxyProtocol' | 'sendProxyProtocol'>;
  readonly upstream: Upstream;
  readonly labels: StreamLabels;
  readonly idleMs: number;
}

function endpointOf(origin: string): { host: string; port: number } {
  const url = new URL(origin);
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port) };
}

/**
 * Relays one accepted TCP connection to the route's upstream: connect (retrying the next endpoint
 * on failure), send a PROXY header if asked, then pipe both ways until either side ends or both are
 * idle too long. `client` is who the connection is from (the PROXY header's, or the peer).
 */
export function relayStream(socket: Socket, route: StreamRoute, client: ProxiedAddress, environment: StreamEnvironment): void {
  const series = environment.metrics.series(route.labels);
  series.connections++;
  const origins = route.upstream.originsFor('HTTP');
  if (origins.length === 0) {
    series.failures++;
    socket.destroy();
    return;
  }
  socket.pause();
  const tries = Math.min(CONNECT_TRIES, origins.length);
  const tried: string[] = [];
  const attempt = (): void => {
    const origin = tried.length === 0 ? route.upstream.pick(origins) : nextUntried(origins, tried);
    tried.push(origin);
    const { host, port } = endpointOf(origin);
    const upstream = connect({ host, port, timeout: environment.connectMs });
    const onConnectFailure = (): void => {
      upstream.destroy();
      if (socket.destroyed) return;
      if (tried.length < tries) return attempt();
      series.failures++;
      environment.log?.warn(`${route.labels.protocol} port ${route.labels.port}: no endpoint of ${route.labels.namespace}/${route.labels.service} answered`, { tried: tried.join(', ') });
      socket.destroy();
    };
    upstream.once('error', onConnectFailure);
    upstream.once('timeout', onConnectFailure);
    upstream.once('connect', () => {
      upstream.off('error', onConnectFailure).off('timeout', onConnectFailure);
      upstream.setTimeout(0);
      if (socket.destroyed) return void upstream.destroy();
      if (route.spec.sendProxyProtocol) {
        try {
          upstream.write(proxyHeaderV1(client, { address: socket.localAddress ?? '0.0.0.0', port: socket.localPort ?? 0 }));
        } catch (error) {
          // An address the header can't carry (a client named by a v2 header in another family): refuse rather than lie.
          series.failures++;
          environment.log?.warn(`${route.labels.protocol} port ${route.labels.port}: no PROXY header for ${client.address}: ${(error as Error).message}`);
          upstream.destroy();
          return void socket.destroy();
        }
      }
      join(socket, upstream, route.idleMs, series);
    });
  };
  socket.once('error', () => socket.destroy());
  attempt();
}

/** Pipes two sockets both ways, counting bytes; either side closing closes the other, as does idleness on both. */
function join(client: Socket, upstream: Socket, idleMs: number, series: { bytesIn: number; bytesOut: number }): void {
  client.on('data', (chunk: Buffer) => (series.bytesIn += chunk.length));
  upstream.on('data', (chunk: Buffer) => (series.bytesOut += chunk.length));
  client.pipe(upstream);
  upstream.pipe(client);
  let lastActivity = performance.now();
  const touch = (): void => {
    lastActivity = performance.now();
  };
  client.on('data', touch);
  upstream.on('data', touch);
  // nginx's proxy_timeout: no byte either way for this long ends the session.
  const idle = setInterval(() => {
    if (performance.now() - lastActivity >= idleMs) {
      client.destroy();
      upstream.destroy();
    }
  }, Math.min(idleMs, 1000));
  idle.unref();
  const closeBoth = (): void => {
    clearInterval(idle);
    client.destroy();
    upstream.destroy();
  };
  client.once('close', closeBoth).on('error', closeBoth);
  upstream.once('close', closeBoth).on('error', closeBoth);
  client.resume();
}

/** Reads a PROXY header off a new connection (bounded in time and size), then hands it on without it. */
function afterProxyHeader(socket: Socket, onClient: (client: ProxiedAddress) => void, onInvalid: (reason: string) => void): void {
  const chunks: Buffer[] = [];
  const timer = setTimeout(() => done({ state: 'invalid', reason: 'no PROXY header within 30 s' }), PROXY_HEADER_TIMEOUT_MS);
  const onData = (chunk: Buffer): void => {
    chunks.push(chunk);
    const received = Buffer.concat(chunks);
    const reading = readProxyHeader(received);
    if (reading.state === 'incomplete') return;
    if (reading.state === 'invalid') return done(reading);
    socket.pause();
    socket.unshift(received.subarray(reading.headerBytes));
    done(reading);
    onClient(reading.client ?? { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 });
  };
  const done = (reading: { state: 'invalid'; reason: string } | { state: 'complete' }): void => {
    clearTimeout(timer);
    socket.off('data', onData);
    if (reading.state === 'invalid') {
      onInvalid(reading.reason);
      socket.destroy();
    }
  };
  socket.on('data', onData);
  socket.once('close', () => clearTimeout(timer));
}

class TcpStreamPort {
  #route: StreamRoute;
  readonly #server: Server;
  readonly #environment: StreamEnvironment;

  constructor(route: StreamRoute, environment: StreamEnvironment) {
    this.#route = route;
    this.#environment = environment;
    this.#server = createServer((socket) => this.#accept(socket));
  }

  set route(route: StreamRoute) {
    this.#route = route;
  }

  #accept(socket: Socket): void {
    const route = this.#route;
    socket.on('error', () => socket.destroy());
    const peer = { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 };
    if (!route.spec.acceptProxyProtocol) return relayStream(socket, route, peer, this.#environment);
    afterProxyHeader(socket, (client) => relayStream(socket, route, client, this.#environment), (reason) => {
      this.#environment.metrics.series(route.labels).failures++;
      this.#environment.log?.warn(`TCP port ${route.labels.port}: a connection from ${peer.address} was dropped: ${reason}`);
    });
  }

  listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, this.#environment.bindAddress, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
  }

  /** Stops listening; connections under way go on until they end. */
  stop(): void {
    if (this.#server.listening) this.#server.close();
  }
}

interface UdpFlow {
  readonly socket: UdpSocket;
  lastActivity: number;
  /** Datagrams that came before the flow's socket was connected; null once it is. */
  pending: Buffer[] | null;
}

class UdpStreamPort {
  #route: StreamRoute;
  readonly #socket: UdpSocket;
  readonly #environment: StreamEnvironment;
  /** Flows by client address and port; Map order is recency. */
  readonly #flows = new Map<string, UdpFlow>();
  readonly #sweeper: NodeJS.Timeout;

  constructor(route: StreamRoute, environment: StreamEnvironment) {
    this.#route = route;
    this.#environment = environment;
    this.#socket = createSocket({ type: isIPv6(environment.bindAddress) ? 'udp6' : 'udp4' });
    this.#socket.on('message', (message, client) => this.#forward(message, client));
    this.#socket.on('error', (error) => environment.log?.warn(`UDP port ${this.#route.labels.port}: ${error.message}`));
    this.#sweeper = setInterval(() => this.#closeIdle(), Math.min(route.idleMs, 1000));
    this.#sweeper.unref();
  }

  set route(route: StreamRoute) {
    this.#route = route;
  }

  #forward(message: Buffer, client: RemoteInfo): void {
    const key = `${client.address}|${client.port}`;
    let flow = this.#flows.get(key);
    if (flow === undefined) {
      const opened = this.#open(client, key);
      if (opened === null) return;
      flow = opened;
    } else {
      this.#flows.delete(key);
      this.#flows.set(key, flow);
    }
    flow.lastActivity = performance.now();
    this.#environment.metrics.series(this.#route.labels).bytesIn += message.length;
    if (flow.pending !== null) flow.pending.push(message);
    else flow.socket.send(message);
  }

  /** A new flow: a socket connected to one endpoint, whose answers go back to the client from this port. */
  #open(client: RemoteInfo, key: string): UdpFlow | null {
    const route = this.#route;
    const series = this.#environment.metrics.series(route.labels);
    series.connections++;
    const origins = route.upstream.originsFor('HTTP');
    if (origins.length === 0) {
      series.failures++;
      return null;
    }
    const { host, port } = endpointOf(route.upstream.pick(origins));
    const socket = createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4' });
    const flow: UdpFlow = { socket, lastActivity: performance.now(), pending: [] };
    socket.on('message', (answer) => {
      flow.lastActivity = performance.now();
      series.bytesOut += answer.length;
      this.#socket.send(answer, client.port, client.address);
    });
    // A refused datagram (ICMP port unreachable) ends the flow; the client's next datagram opens another.
    socket.on('error', () => {
      series.failures++;
      this.#close(key);
    });
    socket.connect(port, host, () => {
      const pending = flow.pending ?? [];
      flow.pending = null;
      for (const datagram of pending) socket.send(datagram);
    });
    if (this.#flows.size >= MAX_UDP_FLOWS) this.#close(this.#flows.keys().next().value as string);
    this.#flows.set(key, flow);
    return flow;
  }

  #close(key: string): void {
    const flow = this.#flows.get(key);
    if (flow === undefined) return;
    this.#flows.delete(key);
    try {
      flow.socket.close();
    } catch {
      // already closed
    }
  }

  #closeIdle(): void {
    const now = performance.now();
    for (const [key, flow] of this.#flows) if (now - flow.lastActivity >= this.#route.idleMs) this.#close(key);
  }

  listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#socket.once('error', reject);
      this.#socket.bind(port, this.#environment.bindAddress, () => {
        this.#socket.off('error', reject);
        resolve();
      });
    });
  }

  /** Stops taking datagrams; each flow is closed too (UDP has no connection to finish). */
  stop(): void {
    clearInterval(this.#sweeper);
    for (const key of [...this.#flows.keys()]) this.#close(key);
    try {
      this.#socket.close();
    } catch {
      // never bound
    }
  }
}

/** The stream ports of the current table: opened, re-pointed and closed as tables change. */
export class StreamPorts {
  readonly #environment: StreamEnvironment;
  readonly #ports = new Map<string, TcpStreamPort | UdpStreamPort>();

  constructor(environment: StreamEnvironment) {
    this.#environment = environment;
  }

  /** Makes the open ports those of `streams`; a port that can't be opened is logged, the others still are. */
  apply(streams: readonly (StreamSpec & { readonly route: StreamRoute })[]): Promise<void> {
    const wanted = new Set(streams.map((stream) => `${stream.protocol}:${stream.port}`));
    for (const [key, port] of this.#ports) {
      if (wanted.has(key)) continue;
      port.stop();
      this.#ports.delete(key);
    }
    const opening: Promise<void>[] = [];
    for (const stream of streams) {
      const key = `${stream.protocol}:${stream.port}`;
      const existing = this.#ports.get(key);
      if (existing !== undefined) {
        existing.route = stream.route;
        continue;
      }
      const port = stream.protocol === 'TCP' ? new TcpStreamPort(stream.route, this.#environment) : new UdpStreamPort(stream.route, this.#environment);
      this.#ports.set(key, port);
      opening.push(
        port.listen(stream.port).catch((error: Error) => {
          this.#ports.delete(key);
          this.#environment.log?.error(`${stream.protocol} port ${stream.port} can't be opened: ${error.message}`);
        }),
      );
    }
    return Promise.all(opening).then(() => undefined);
  }

  close(): void {
    for (const port of this.#ports.values()) port.stop();
    this.#ports.clear();
  }
}

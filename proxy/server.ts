// Pier's listeners: the HTTP port and the HTTPS port that route requests, and the built-in
// default server that answers 404 (the seed's port 8181). The route table and the certificates
// compiled from it are one reference, swapped whole: a request reads it once when it starts, and
// a handshake picks its certificate from the table current at that moment, so a swap never affects
// a request or a TLS connection already under way.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createSecureServer, type Http2SecureServer, type Http2Session, type SecureServerOptions } from 'node:http2';
import type { Server as NetServer, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { SecureContext } from 'node:tls';
import { Agent, H2CClient, type Dispatcher } from 'undici';
import { DEFAULT_STREAM_TIMEOUT_MS, type RouteTableSpec, type UpstreamSpec, type WireProtocol } from './route-spec.ts';
import type { RouteTable, StageCompiler, UpstreamsSince } from './route-table.ts';
import { compileNextTable, emptyTable, updateTableEndpoints, type CompiledTable } from './compiled-table.ts';
import { stageCompiler } from './stages.ts';
import { UpstreamPools } from './upstream-pools.ts';
import { finishAnswer, finishExchange, type Answer, type AuthCheck, type Exchange } from './pipeline.ts';
import { AuthCache } from './auth-cache.ts';
import { decide, type Answered, type Forwarded } from './decide.ts';
import type { OutgoingRequest } from './headers.ts';
import { STATUS_NOT_FOUND } from './errors.ts';
import { forwardRequest, newRequestId, respondWithStatus, writeAnswer, type ClientRequest, type ClientResponse, type ForwardDeps, type Timeouts } from './forward.ts';
import { tunnelUpgrade, writeRawAnswer } from './upgrade.ts';
import type { ProxyMetrics } from './proxy-metrics.ts';
import { TLS_PROTOCOL_SETTINGS, secureContextFor } from './tls-contexts.ts';
import { makeFakeCertificate, type PemPair } from './tls-fake-certificate.ts';
import { createTlsListener } from './tls-listener.ts';
import { StreamPorts, relayStream, type StreamEnvironment, type StreamRoute } from './streams.ts';
import { createLogger, type LogLevel } from './log.ts';
import type { StreamLabels } from './proxy-metrics.ts';

/** nginx's keepalive_timeout in ingress-nginx: how long an idle client connection is kept. */
const CLIENT_KEEP_ALIVE_MS = 75_000;
const STANDARD_HTTPS_PORT = 443;
/** ingress-nginx's ssl-session-timeout (10m): how long a session ticket may resume a session. */
const TLS_SESSION_TIMEOUT_S = 600;
/** Session-ticket keys: 16 bytes name, 16 HMAC, 16 AES, as node:tls wants them. */
const TICKET_KEY_BYTES = 48;
/** A new ticket key this often bounds how much traffic one stolen key could decrypt. */
export const DEFAULT_TICKET_KEY_ROTATION_MS = 12 * 3600 * 1000;

export function newTicketKeys(): Buffer {
  return randomBytes(TICKET_KEY_BYTES);
}

/**
 * TLS state that all proxy processes of one Pier share, as nginx's workers do: the fake certificate
 * (so clients see one certificate whichever process answers) and the session-ticket keys (so a
 * session resumes on any of them). Whoever passes it rotates the keys, through rotateTicketKeys.
 */
export interface SharedTls {
  readonly fakeCertificate: PemPair;
  /** A Uint8Array after IPC's structured clone; copied into a Buffer on use. */
  readonly ticketKeys: Uint8Array;
}

export interface ProxyOptions {
  readonly bindAddress: string;
  readonly httpPort: number;
  /** The HTTPS port; absent, Pier serves no HTTPS (and redirects nothing to it). */
  readonly httpsPort?: number;
  readonly defaultServerPort: number;
  readonly timeouts: Timeouts;
  /** How often session-ticket keys are replaced (default 12 h). */
  readonly ticketKeyRotationMs?: number;
  /** Given: this server uses it and leaves ticket-key rotation to the giver. Absent: its own, rotated by itself. */
  readonly sharedTls?: SharedTls;
  /** What stream ports and passthrough log (a port that can't be opened, an endpoint that never answers). Absent: warn. */
  readonly logLevel?: LogLevel;
}

export interface BoundPorts {
  readonly http: number;
  /** Null when no HTTPS port was asked for. */
  readonly https: number | null;
  readonly defaultServer: number;
}

/** The HTTPS port's listener and the two TLS servers it hands connections to (see tls-listener.ts). */
interface HttpsServers {
  readonly front: NetServer;
  readonly bySni: Http2SecureServer;
  readonly noSni: Http2SecureServer;
}

export class ProxyServer {
  readonly #options: ProxyOptions;
  readonly #metrics: ProxyMetrics;
  readonly #dispatchers: DispatcherCache;
  readonly #httpServer: Server;
  readonly #https: HttpsServers | null;
  readonly #defaultServer: Server;
  readonly #sockets = new Set<Socket>();
  readonly #sessions = new Set<Http2Session>();
  readonly #deps: ForwardDeps;
  readonly #fakeCertificate: PemPair;
  readonly #fakeContext: SecureContext;
  #ticketKeys: Buffer;
  #ticketKeyTimer: NodeJS.Timeout | null = null;
  #compiled: CompiledTable;
  /** Upstreams by id across swaps, with their balancer state. */
  readonly #pools = new UpstreamPools();
  /** `:port` in https redirects when the HTTPS port isn't 443; known once it is bound. */
  #redirectPortSuffix = '';
  /** Compiles each route's stages at swap time (stages.ts). */
  readonly #compileStages: StageCompiler;
  /** TCP/UDP service ports (streams.ts). */
  readonly #streams: StreamPorts;
  readonly #streamEnvironment: StreamEnvironment;
  /** ssl-passthrough hosts of the current table, and where their connections go. */
  #passthrough: ReadonlyMap<string, StreamRoute> = new Map();

  constructor(options: ProxyOptions, metrics: ProxyMetrics) {
    this.#options = options;
    this.#metrics = metrics;
    const auth = { dispatcher: (protocol: WireProtocol, connectMs: number) => this.#dispatchers.for(protocol, connectMs), connectMs: options.timeouts.connectMs, readMs: options.timeouts.readMs, cache: new AuthCache() };
    this.#compileStages = stageCompiler({ httpsEnabled: options.httpsPort !== undefined, redirectPortSuffix: () => this.#redirectPortSuffix, rateLimits: new Map(), connectionLimits: new Map(), auth });
    this.#dispatchers = new DispatcherCache(options.timeouts);
    this.#streamEnvironment = { bindAddress: options.bindAddress, connectMs: options.timeouts.connectMs, metrics: metrics.streams, log: createLogger(options.logLevel ?? 'warn') };
    this.#streams = new StreamPorts(this.#streamEnvironment);
    this.#fakeCertificate = options.sharedTls?.fakeCertificate ?? makeFakeCertificate(new Date());
    this.#ticketKeys = options.sharedTls ? Buffer.from(options.sharedTls.ticketKeys) : newTicketKeys();
    this.#fakeContext = secureContextFor(this.#fakeCertificate);
    this.#compiled = emptyTable(this.#fakeContext);

    this.#httpServer = createServer({ keepAliveTimeout: CLIENT_KEEP_ALIVE_MS }, (req, res) => this.#handle(req, res, false));
    this.#httpServer.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.#handleUpgrade(req, socket, head, false));
    this.#httpServer.on('connection', (socket: Socket) => this.#track(socket));
    this.#https = options.httpsPort === undefined ? null : this.#createHttpsServers();
    this.#defaultServer = createServer((_req, res) => respondWithStatus(res, STATUS_NOT_FOUND));
    this.#deps = { dispatcher: (protocol, connectMs) => this.#dispatchers.for(protocol, connectMs), timeouts: options.timeouts, metrics };
  }

  /**
   * HTTP/2 and HTTP/1.1 on one TLS port, chosen by ALPN; the compat API gives both the same
   * request handler. A front listener hands each connection to one of two TLS servers (see
   * tls-listener.ts): with SNI, one that picks the certificate per handshake from the current
   * table and has none of its own; without, one whose own certificate is the default.
   */
  #createHttpsServers(): HttpsServers {
    const bySni = this.#createTlsServer({
      SNICallback: (serverName, done) => done(null, this.#compiled.certificates.forServerName(serverName)),
    });
    const noSni = this.#createTlsServer({ cert: this.#fakeCertificate.certificatePem, key: this.#fakeCertificate.keyPem });
    const front = createTlsListener({ withServerName: bySni, withoutServerName: noSni, passthrough: (serverName) => this.#passthroughFor(serverName) }, (socket) => this.#track(socket));
    return { front, bySni, noSni };
  }

  #createTlsServer(certificateOptions: SecureServerOptions): Http2SecureServer {
    const server = createSecureServer(
      {
        ...TLS_PROTOCOL_SETTINGS,
        ...certificateOptions,
        allowHTTP1: true,
        sessionTimeout: TLS_SESSION_TIMEOUT_S,
        ticketKeys: this.#ticketKeys,
      },
      (req, res) => this.#handle(req, res, true),
    );
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.#handleUpgrade(req, socket, head, true));
    server.on('session', (session: Http2Session) => {
      this.#sessions.add(session);
      session.once('close', () => this.#sessions.delete(session));
    });
    // A client that drops during the handshake is routine, not a server error.
    server.on('tlsClientError', () => undefined);
    return server;
  }

  /**
   * Replaces the route table and its certificates. Compiling happens first, so a bad spec throws
   * and nothing changes; compiled hosts and certificate contexts the current table already has
   * are reused, so the cost follows what changed.
   */
  swap(spec: RouteTableSpec): readonly string[] {
    const previous = this.#compiled;
    const { table, upstreams } = compileNextTable(spec, previous, this.#pools, this.#compileStages, this.#fakeContext);
    const { certificates } = table;
    this.#compiled = table;
    this.#applyStreams(spec, previous.routes.spec, upstreams);
    if (certificates.unusable.length > 0) this.#metrics.tlsCertificatesRefused.inc(certificates.unusable.length);
    // Clients that send no SNI get the server's own context, which only setSecureContext changes.
    if (this.#https && certificates.defaultContext !== previous.certificates.defaultContext) {
      const material = certificates.defaultCertificate?.material ?? this.#fakeCertificate;
      this.#https.noSni.setSecureContext({ ...TLS_PROTOCOL_SETTINGS, cert: material.certificatePem, key: material.keyPem, sessionTimeout: TLS_SESSION_TIMEOUT_S, ticketKeys: this.#ticketKeys });
    }
    return certificates.unusable;
  }

  /** The table's stream ports and passthrough hosts, on the upstreams the table now uses. */
  #applyStreams(spec: RouteTableSpec, previous: RouteTableSpec, { byId: upstreams, replaced }: UpstreamsSince): void {
    const idleMs = spec.streamTimeoutMs ?? DEFAULT_STREAM_TIMEOUT_MS;
    const routeOf = (upstreamId: string, protocol: StreamLabels['protocol'], port: number, spec: StreamRoute['spec']): StreamRoute | null => {
      const upstream = upstreams.get(upstreamId);
      if (upstream === undefined) return null;
      return { spec, upstream, idleMs, labels: { protocol, port: String(port), namespace: upstream.spec.namespace, service: upstream.spec.service } };
    };
    const streams = (spec.streams ?? []).flatMap((stream) => {
      const route = routeOf(stream.upstream, stream.protocol, stream.port, stream);
      return route === null ? [] : [{ ...stream, route }];
    });
    void this.#streams.apply(streams);
    // The same passthrough hosts on the same Upstream objects route as they did.
    const samePassthrough = spec.passthrough === previous.passthrough && (spec.streamTimeoutMs ?? DEFAULT_STREAM_TIMEOUT_MS) === (previous.streamTimeoutMs ?? DEFAULT_STREAM_TIMEOUT_MS) && replaced?.length === 0;
    if (samePassthrough) return;
    const passthrough = new Map<string, StreamRoute>();
    for (const entry of spec.passthrough ?? []) {
      const route = routeOf(entry.upstream, 'passthrough', this.#options.httpsPort ?? 0, { acceptProxyProtocol: false, sendProxyProtocol: false });
      if (route !== null) passthrough.set(entry.host, route);
    }
    this.#passthrough = passthrough;
  }

  /** For an ssl-passthrough host: what takes its connection (the ClientHello still unread in it); else null. */
  #passthroughFor(serverName: string): ((socket: Socket) => void) | null {
    const route = this.#passthrough.get(serverName.toLowerCase());
    if (route === undefined) return null;
    return (socket) => relayStream(socket, route, { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 }, this.#streamEnvironment);
  }

  updateEndpoints(upstreams: readonly UpstreamSpec[]): boolean {
    return updateTableEndpoints(this.#compiled, this.#pools, upstreams);
  }

  /** The certificate served when nothing else matches and no --default-ssl-certificate is set. */
  get fakeCertificatePem(): string {
    return this.#fakeCertificate.certificatePem;
  }

  /** Starts a new session-ticket key now: tickets issued before no longer resume. */
  rotateTicketKeys(keys: Uint8Array = newTicketKeys()): void {
    this.#ticketKeys = Buffer.from(keys);
    this.#https?.bySni.setTicketKeys(this.#ticketKeys);
    this.#https?.noSni.setTicketKeys(this.#ticketKeys);
  }

  async listen(): Promise<BoundPorts> {
    const { bindAddress, httpPort, httpsPort, defaultServerPort } = this.#options;
    const http = await listenOn(this.#httpServer, bindAddress, httpPort);
    let https: number | null = null;
    if (this.#https && httpsPort !== undefined) {
      // The port is the plain front listener's, so node:cluster has no TLS server data (ticket
      // keys) to copy between workers: each TLS server keeps the keys it was given.
      https = await listenOn(this.#https.front, bindAddress, httpsPort);
      this.#redirectPortSuffix = https === STANDARD_HTTPS_PORT ? '' : `:${https}`;
      if (!this.#options.sharedTls) {
        this.#ticketKeyTimer = setInterval(() => this.rotateTicketKeys(), this.#options.ticketKeyRotationMs ?? DEFAULT_TICKET_KEY_ROTATION_MS);
        this.#ticketKeyTimer.unref();
      }
    }
    const defaultServer = await listenOn(this.#defaultServer, bindAddress, defaultServerPort);
    return { http, https, defaultServer };
  }

  /** Stops accepting connections, lets requests under way finish (up to drainMs), then closes the rest. */
  async close(drainMs: number): Promise<void> {
    if (this.#ticketKeyTimer) clearInterval(this.#ticketKeyTimer);
    this.#streams.close();
    const closed = Promise.all([closeServer(this.#httpServer), closeServer(this.#https?.front ?? null), closeServer(this.#defaultServer)]);
    this.#httpServer.closeIdleConnections();
    // GOAWAY: HTTP/2 clients finish their streams and open no new ones here.
    for (const session of this.#sessions) session.close();
    const deadline = setTimeout(() => {
      for (const session of this.#sessions) session.destroy();
      for (const socket of this.#sockets) socket.destroy();
      this.#httpServer.closeAllConnections();
      this.#defaultServer.closeAllConnections();
    }, drainMs);
    await closed;
    clearTimeout(deadline);
    await this.#dispatchers.close();
  }

  #track(socket: Socket): void {
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
  }

  /** The forwarding headers and header rules for the upstream request the stages left. */
  #outgoing(req: ClientRequest, exchange: Exchange, table: RouteTable): OutgoingRequest {
    const { secure, requested } = exchange;
    const port = req.socket.localPort ?? (secure ? this.#options.httpsPort : this.#options.httpPort) ?? 0;
    return {
      request: exchange.upstream,
      forwarded: { clientAddress: exchange.clientAddress, proto: secure ? 'https' : 'http', port, ...(exchange.forwardedFor === null ? {} : { forwardedFor: exchange.forwardedFor }) },
      headerPolicy: requested.fromAbsoluteForm ? { ...table.headerPolicy, hostFromTarget: requested.host ?? '' } : table.headerPolicy,
    };
  }

  /** What to do with a request (decide.ts), with its upstream request's forwarding details when it is forwarded. */
  #decide(req: IncomingMessage | ClientRequest, secure: boolean): Decision {
    const table = this.#compiled.routes;
    const decision = decide(table, req, secure);
    if (!('target' in decision)) return decision;
    return { ...decision, outgoing: this.#outgoing(req, decision.exchange, table) };
  }

  #handle(req: ClientRequest, res: ClientResponse, secure: boolean): void {
    const decision = this.#decide(req, secure);
    if (!('target' in decision)) return this.#answer(decision, (answer) => writeAnswer(res, answer));
    const { exchange } = decision;
    if (exchange.finishers !== null) res.once('close', () => finishExchange(exchange));
    const forward = (): void => forwardRequest(req, res, decision.target, decision.outgoing, this.#deps, exchange);
    if (decision.target.externalAuth === null) return forward();
    this.#authorize(req, decision, forward, (answer) => writeAnswer(res, answer));
  }

  #handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, secure: boolean): void {
    const decision = this.#decide(req, secure);
    const writeRaw = (answer: Answer): void => writeRawAnswer(socket, answer);
    if (!('target' in decision)) return this.#answer(decision, writeRaw);
    const { exchange } = decision;
    if (exchange.finishers !== null) socket.once('close', () => finishExchange(exchange));
    const tunnel = (): void => tunnelUpgrade(req, socket, head, decision.target, decision.outgoing, this.#deps, exchange);
    if (decision.target.externalAuth === null) return tunnel();
    this.#authorize(req, decision, tunnel, writeRaw);
  }

  #answer({ answer, labels }: Answered, write: (answer: Answer) => void): void {
    write(answer);
    if (labels) this.#metrics.routes.count(labels, answer.status);
  }

  /** auth-url: the sub-request first, then forward, or the auth service's answer through the route's response stages. */
  #authorize(req: IncomingMessage | ClientRequest, decision: Forwarded & { readonly outgoing: OutgoingRequest }, forward: () => void, write: (answer: Answer) => void): void {
    const { target, exchange } = decision;
    const check = target.externalAuth as AuthCheck;
    const received = req.headers['x-request-id'];
    const requestId = (Array.isArray(received) ? received[0] : received) || newRequestId();
    exchange.upstream.setHeaders = [...exchange.upstream.setHeaders, 'x-request-id', requestId];
    void check(exchange, req.rawHeaders, requestId).then((outcome) => {
      if ('pass' in outcome) return forward();
      this.#answer({ answer: finishAnswer(outcome.answer, target.responseStages, exchange), labels: target.labels }, write);
    });
  }
}

type Decision = Answered | (Forwarded & { readonly outgoing: OutgoingRequest });

/**
 * undici dispatchers by backend protocol and connect timeout: undici sets the connect timeout per
 * connection pool, so a route with its own proxy-connect-timeout gets pools of its own. A
 * timeout's pools are made on first use and kept: routes use few distinct values.
 */
class DispatcherCache {
  readonly #timeouts: Timeouts;
  readonly #byKey = new Map<string, Dispatcher>();
  readonly #defaults: Partial<Record<WireProtocol, Dispatcher>> = {};

  constructor(timeouts: Timeouts) {
    this.#timeouts = timeouts;
  }

  for(protocol: WireProtocol, connectMs: number): Dispatcher {
    // Most routes use the flags' connect timeout: those skip building a key.
    if (connectMs === this.#timeouts.connectMs) return (this.#defaults[protocol] ??= this.#keyed(protocol, connectMs));
    return this.#keyed(protocol, connectMs);
  }

  #keyed(protocol: WireProtocol, connectMs: number): Dispatcher {
    // HTTP and HTTPS share HTTP/1.1 pools; the origin's scheme tells them apart.
    const key = `${protocol === 'HTTPS' ? 'HTTP' : protocol}:${connectMs}`;
    let dispatcher = this.#byKey.get(key);
    if (!dispatcher) {
      dispatcher = this.#create(protocol, connectMs);
      this.#byKey.set(key, dispatcher);
    }
    return dispatcher;
  }

  #create(protocol: WireProtocol, connectMs: number): Dispatcher {
    const timeouts = { headersTimeout: this.#timeouts.readMs, bodyTimeout: this.#timeouts.readMs };
    // Backend certificates are not verified, as ingress-nginx's proxy_ssl_verify defaults to off.
    const connect = { timeout: connectMs, rejectUnauthorized: false };
    // gRPC in clear is HTTP/2 with prior knowledge (h2c); over TLS, h2 is chosen by ALPN.
    if (protocol === 'GRPC') return new Agent({ connect, ...timeouts, factory: (origin, opts) => new H2CClient(origin, opts) });
    if (protocol === 'GRPCS') return new Agent({ connect, ...timeouts, allowH2: true });
    return new Agent({ connect, ...timeouts });
  }

  async close(): Promise<void> {
    await Promise.all([...this.#byKey.values()].map((dispatcher) => dispatcher.close()));
  }
}

function listenOn(server: NetServer, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}

function closeServer(server: NetServer | null): Promise<void> {
  return new Promise((resolve) => {
    if (!server?.listening) return resolve();
    server.close(() => resolve());
  });
}

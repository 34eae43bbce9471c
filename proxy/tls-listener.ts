// The HTTPS port's listener: it reads each client's ClientHello, then hands the connection to one
// of two TLS servers that share everything but their own certificate.
//
// Why two: node:tls applies an SNICallback's context by copying its certificate and key into the
// connection (SSL_use_certificate), which fills only the slot for that key type. Whatever the
// server's own context holds in another slot stays, and OpenSSL may prefer it: with an ECDSA
// default certificate, a host whose Secret holds an RSA certificate was served the default one.
// So clients that send SNI go to a server whose own context has no certificate at all (the SNI
// callback's is then the only one), and clients that send none go to a server whose own context
// is the default certificate.
import { createServer, type Server, type Socket } from 'node:net';
import { readServerName } from './client-hello.ts';

/** nginx's ssl_handshake_timeout default: how long a client may take to send its ClientHello. */
export const CLIENT_HELLO_TIMEOUT_MS = 60_000;

export interface TlsListenerTargets {
  /** Takes connections whose ClientHello names a server. */
  readonly withServerName: Server;
  /** Takes connections whose ClientHello names none (and anything that isn't a ClientHello). */
  readonly withoutServerName: Server;
  /** ssl-passthrough: what takes a connection for this server name unterminated, or null to terminate it here. */
  readonly passthrough: (serverName: string) => ((socket: Socket) => void) | null;
}

export function createTlsListener(targets: TlsListenerTargets, onConnection: (socket: Socket) => void): Server {
  return createServer((socket) => {
    onConnection(socket);
    void readClientHello(socket).then((outcome) => {
      if (outcome === 'gone') return;
      const passthrough = outcome.serverName === null ? null : targets.passthrough(outcome.serverName);
      if (passthrough !== null) return passthrough(socket);
      (outcome.serverName === null ? targets.withoutServerName : targets.withServerName).emit('connection', socket);
    });
  });
}

/**
 * Reads until the ClientHello's server name is known, then puts every byte back (node:tls reads
 * what a socket has buffered before its own reads). 'gone' when the client left or took too long.
 */
function readClientHello(socket: Socket): Promise<{ serverName: string | null } | 'gone'> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const finish = (outcome: { serverName: string | null } | 'gone'): void => {
      socket.off('data', onData).off('end', onGone).off('error', onGone).off('close', onGone);
      socket.setTimeout(0);
      socket.removeListener('timeout', onTimeout);
      if (outcome === 'gone') socket.destroy();
      else {
        socket.pause();
        socket.unshift(Buffer.concat(chunks));
      }
      resolve(outcome);
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      const reading = readServerName(chunks.length === 1 ? chunk : Buffer.concat(chunks));
      if (reading.complete) finish({ serverName: reading.serverName });
    };
    const onGone = (): void => finish('gone');
    const onTimeout = (): void => finish('gone');
    socket.on('data', onData).once('end', onGone).once('error', onGone).once('close', onGone);
    socket.setTimeout(CLIENT_HELLO_TIMEOUT_MS, onTimeout);
  });
}

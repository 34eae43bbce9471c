// A tiny HTTP backend for tests, run as its own process (often inside a test network namespace):
// answers `<name> <method> <url>` (and the Host and X-Forwarded-Prefix it got, in x-seen-*
// response headers) and reports readiness on stdout. A request carrying
// `x-delay-ms: N` is answered N ms late, and reported on stdout as it arrives (a slow request,
// for graceful-shutdown tests). It answers UDP datagrams on the same address and port too, with
// `<name> <datagram>` (for UDP services).
// Usage: node echo-server.mjs --listen ADDRESS:PORT --name NAME
import { createServer } from 'node:http';
import { createSocket } from 'node:dgram';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { listen: { type: 'string' }, name: { type: 'string' } } });
const [host, port] = (values.listen ?? '127.0.0.1:0').split(/:(?=\d+$)/);
const name = values.name ?? 'backend';
const MAX_DELAY_MS = 60_000;
const server = createServer((req, res) => {
  const body = `${name} ${req.method} ${req.url}`;
  const delayMs = Math.min(Number(req.headers['x-delay-ms'] ?? 0) || 0, MAX_DELAY_MS);
  // Only slow requests are reported, so that benchmarks don't pay for a line per request.
  if (delayMs > 0) process.stdout.write(`received ${req.method} ${req.url}\n`);
  setTimeout(() => {
    const seen = { 'x-seen-host': req.headers.host ?? '', 'x-seen-prefix': req.headers['x-forwarded-prefix'] ?? '' };
    res.writeHead(200, { 'content-type': 'text/plain', 'x-backend': name, ...seen, 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }, delayMs);
});
const udp = createSocket(host.includes(':') ? 'udp6' : 'udp4');
udp.on('message', (message, from) => udp.send(`${name} ${message.toString()}`, from.port, from.address));
udp.bind(Number(port), host);
server.listen(Number(port), host, () => {
  process.stdout.write(`listening ${JSON.stringify(server.address())}\n`);
});
process.on('SIGTERM', () => {
  udp.close();
  server.close(() => process.exit(0));
});

// A tiny HTTP backend for tests, run as its own process (often inside a test network namespace):
// answers `<name> <method> <url>` and reports readiness on stdout.
// Usage: node echo-server.mjs --listen ADDRESS:PORT --name NAME
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { listen: { type: 'string' }, name: { type: 'string' } } });
const [host, port] = (values.listen ?? '127.0.0.1:0').split(/:(?=\d+$)/);
const name = values.name ?? 'backend';
const server = createServer((req, res) => {
  const body = `${name} ${req.method} ${req.url}`;
  res.writeHead(200, { 'content-type': 'text/plain', 'x-backend': name, 'content-length': Buffer.byteLength(body) });
  res.end(body);
});
server.listen(Number(port), host, () => {
  process.stdout.write(`listening ${JSON.stringify(server.address())}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));

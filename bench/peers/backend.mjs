// The benchmark backend: fixed bodies by path (/small 100 B, /large 16 KiB), with Content-Length.
// Usage: node backend.mjs PORT
import { createServer } from 'node:http';

const bodies = { '/small': Buffer.alloc(100, 'a'), '/large': Buffer.alloc(16 * 1024, 'b') };
const port = Number(process.argv[2]);
const server = createServer((req, res) => {
  const body = bodies[req.url] ?? bodies['/small'];
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
  res.end(body);
});
server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1', () => process.stdout.write('ready\n'));
process.on('SIGTERM', () => process.exit(0));

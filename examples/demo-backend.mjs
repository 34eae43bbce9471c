// The demo backend: answers every request with what it received, so you can see what Pier forwarded.
import { createServer } from 'node:http';

export function startDemoBackend(port = 8080, host = '127.0.0.1') {
  const server = createServer((req, res) => {
    const body = JSON.stringify({ message: 'hello from the demo backend', method: req.method, url: req.url, headers: req.headers }, null, 2) + '\n';
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const port = Number(process.env.PORT ?? 8080);
  await startDemoBackend(port);
  console.log(`demo backend on http://127.0.0.1:${port}`);
}

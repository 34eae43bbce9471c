#!/usr/bin/env node
// `npm run demo`: the demo backend plus `pier serve --manifests examples/` on unprivileged ports.
import { fileURLToPath } from 'node:url';
import { startDemoBackend } from '../examples/demo-backend.mjs';

const HTTP_PORT = 8000;
const examples = fileURLToPath(new URL('../examples/', import.meta.url));

let backend;
try {
  backend = await startDemoBackend(8080);
} catch (error) {
  console.error(`demo: cannot start the demo backend on 127.0.0.1:8080 (${error.message}); is something else using the port?`);
  process.exit(1);
}
const { main } = await import('../operator/cli.ts');
console.log(`Pier is serving examples/ on port ${HTTP_PORT}. Try:\n\n  curl -H 'Host: ngx.myingress.com' http://127.0.0.1:${HTTP_PORT}/\n\nand open the dashboard: http://127.0.0.1:10254/dashboard\n\nEdit the files in examples/ and Pier applies them live. Ctrl-C stops.\n`);
const code = await main([
  'serve', '--manifests', examples,
  '--bind-address', '127.0.0.1',
  '--http-port', String(HTTP_PORT), '--https-port', '8443',
  '--healthz-port', '10254', '--default-server-port', '8181',
]);
backend.close();
process.exit(code);

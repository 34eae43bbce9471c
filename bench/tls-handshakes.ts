// TLS handshakes per second: Pier against nginx on the same certificate, side by side in one
// run, in alternating rounds (A B A B ...). Full handshakes only: `openssl s_time -new` opens a
// fresh connection for each, and no session is ever reused. The load comes from separate
// processes (CLIENTS parallel s_time runs), so the client's CPU isn't charged to the server.
// Both servers have one process; Pier runs `pier serve --manifests` as a user would.
// Usage: node bench/tls-handshakes.ts [--rounds 3] [--duration 5] [--clients 2] [--key ec|rsa]
// Installs nginx from Debian on first use (root). Everything is on 127.0.0.1 and stops by itself.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ensureCommands, freePort, startNginx, type RunningNginx } from './lib/tools.ts';
import { cpuSeconds } from './lib/proc.ts';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '5' },
    clients: { type: 'string', default: '2' },
    key: { type: 'string', default: 'ec' },
  },
});
const ROUNDS = Number(values.rounds);
const DURATION_S = Number(values.duration);
const CLIENTS = Number(values.clients);
const KEY_TYPE = values.key === 'rsa' ? 'rsa' : 'ec';
const HOST = 'bench.local';
const PIER_BIN = fileURLToPath(new URL('../bin/pier.mjs', import.meta.url));
const READY_TIMEOUT_MS = 20_000;
/** s_time's summary: "1234 connections in 5 real seconds". */
const S_TIME_REAL = /(\d+) connections in (\d+) real seconds/;

interface Server {
  readonly name: string;
  readonly port: number;
  readonly pid: number;
}

function makeCertificate(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'tls.crt');
  const key = join(dir, 'tls.key');
  const keyArgs = KEY_TYPE === 'rsa' ? ['-newkey', 'rsa:2048'] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];
  execFileSync('openssl', ['req', '-x509', ...keyArgs, '-nodes', '-days', '1', '-subj', `/CN=${HOST}`, '-addext', `subjectAltName=DNS:${HOST}`, '-keyout', key, '-out', cert], { stdio: 'ignore' });
  return { cert, key };
}

async function startPier(dir: string, certificate: { cert: string; key: string }): Promise<{ server: Server; child: ChildProcess }> {
  const manifests = join(dir, 'manifests');
  await execFileSync('mkdir', ['-p', manifests]);
  const base64 = async (path: string) => Buffer.from(await readFile(path)).toString('base64');
  await writeFile(join(manifests, 'bench.yaml'), `apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: { name: pier }
spec: { controller: pier.dev/ingress-controller }
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { name: bench, namespace: default }
spec:
  ingressClassName: pier
  tls: [{ hosts: [${HOST}], secretName: bench-tls }]
  rules: [{ host: ${HOST} }]
---
apiVersion: v1
kind: Secret
metadata: { name: bench-tls, namespace: default }
type: kubernetes.io/tls
data:
  tls.crt: ${await base64(certificate.cert)}
  tls.key: ${await base64(certificate.key)}
`);
  const [http, https, defaultServer, healthz] = [await freePort(), await freePort(), await freePort(), await freePort()];
  // s_time sends no SNI, so the same Secret is the default certificate: both servers answer with it.
  const child = spawn(process.execPath, [
    PIER_BIN, 'serve', '--manifests', manifests, '--bind-address=127.0.0.1', '--healthz-bind-address=127.0.0.1',
    `--http-port=${http}`, `--https-port=${https}`, `--default-server-port=${defaultServer}`, `--healthz-port=${healthz}`,
    '--default-ssl-certificate=default/bench-tls', '--log-level=warn', '--workers=1',
  ], { stdio: ['ignore', 'ignore', 'inherit'] });
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!(await isReady(healthz))) {
    if (child.exitCode !== null) throw new Error(`pier exited with ${child.exitCode}`);
    if (Date.now() > deadline) throw new Error('pier did not become ready');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { server: { name: 'Pier', port: https, pid: child.pid as number }, child };
}

async function isReady(healthzPort: number): Promise<boolean> {
  try {
    return (await fetch(`http://127.0.0.1:${healthzPort}/healthz`)).ok;
  } catch {
    return false;
  }
}

async function startNginxTls(certificate: { cert: string; key: string }): Promise<{ server: Server; nginx: RunningNginx }> {
  const port = await freePort();
  // ingress-nginx's TLS settings: TLS 1.2 and 1.3, its ssl-ciphers list, a shared session cache.
  const nginx = await startNginx(
    `  server {
    listen 127.0.0.1:${port} ssl;
    server_name ${HOST};
    ssl_certificate ${certificate.cert};
    ssl_certificate_key ${certificate.key};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305;
    ssl_prefer_server_ciphers on;
    ssl_session_cache shared:SSL:10m;
    ssl_session_timeout 10m;
    location / { return 200 "ok\\n"; }
  }`,
    1,
    port,
  );
  const master = nginx.process.pid as number;
  return { server: { name: 'nginx', port, pid: master }, nginx };
}

/** CLIENTS parallel `openssl s_time -new` runs for DURATION_S; handshakes per second, and server CPU ms per handshake. */
async function measure(server: Server): Promise<{ perSecond: number; cpuMsPerHandshake: number }> {
  const cpuBefore = cpuSeconds(server.pid);
  const runs = Array.from({ length: CLIENTS }, async () => {
    const child = spawn('openssl', ['s_time', '-new', '-connect', `127.0.0.1:${server.port}`, '-time', String(DURATION_S)], { stdio: ['ignore', 'pipe', 'ignore'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    // s_time stops itself after -time; this bounds a stuck one.
    const killer = setTimeout(() => child.kill('SIGKILL'), (DURATION_S + 10) * 1000);
    await once(child, 'exit');
    clearTimeout(killer);
    const match = S_TIME_REAL.exec(output);
    if (!match) throw new Error(`no result from openssl s_time against ${server.name}:\n${output}`);
    return Number(match[1]) / Number(match[2]);
  });
  const rates = await Promise.all(runs);
  const perSecond = rates.reduce((sum, rate) => sum + rate, 0);
  const cpu = cpuSeconds(server.pid) - cpuBefore;
  return { perSecond, cpuMsPerHandshake: (cpu * 1000) / (perSecond * DURATION_S) };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

async function main(): Promise<void> {
  ensureCommands({ nginx: 'nginx-light', openssl: 'openssl' });
  const dir = await mkdtemp(join(tmpdir(), 'pier-bench-tls-'));
  const certificate = makeCertificate(dir);
  const pier = await startPier(dir, certificate);
  const nginx = await startNginxTls(certificate);
  try {
    const rows: string[] = [];
    const ratios: number[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const a = await measure(pier.server);
      const b = await measure(nginx.server);
      ratios.push(a.perSecond / b.perSecond);
      rows.push(`| ${round} | ${a.perSecond.toFixed(0)} | ${b.perSecond.toFixed(0)} | ${(a.perSecond / b.perSecond).toFixed(2)} | ${a.cpuMsPerHandshake.toFixed(3)} | ${b.cpuMsPerHandshake.toFixed(3)} |`);
      console.error(`round ${round}: Pier ${a.perSecond.toFixed(0)}/s, nginx ${b.perSecond.toFixed(0)}/s`);
    }
    console.log(`\nFull TLS handshakes (openssl s_time -new, ${CLIENTS} client processes, ${DURATION_S} s per round, ${KEY_TYPE === 'rsa' ? 'RSA 2048' : 'ECDSA P-256'} certificate, TLS 1.3, 1 process each)\n`);
    console.log('| round | Pier handshakes/s | nginx handshakes/s | Pier/nginx | Pier CPU ms/handshake | nginx CPU ms/handshake |');
    console.log('|---|---|---|---|---|---|');
    for (const row of rows) console.log(row);
    console.log(`\nmedian ratio Pier/nginx: ${median(ratios).toFixed(2)}`);
  } finally {
    pier.child.kill('SIGTERM');
    await once(pier.child, 'exit');
    await nginx.nginx.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();

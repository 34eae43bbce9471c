#!/usr/bin/env node
// The README's test command (`npm test`): finds every *.test.ts under test/ and runs them on
// node's test runner (Node runs the TypeScript itself).
// When a selected suite uses test/helpers/cluster.ts it also brings up the real control plane
// (test/cluster/cluster.sh, building kube-apiserver/etcd on first use) before the tests, so the
// build isn't charged to a test's timeout, and stops it afterwards if this run started it.
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const clusterScript = join(root, 'test', 'cluster', 'cluster.sh');
const clusterKubeconfig = join(root, '.cluster', 'kubeconfig');
// The whole suite takes about 4 min here; a test process that hangs must fail the run, not outlast CI.
const WHOLE_RUN_TIMEOUT_MS = 30 * 60_000;

// npm scripts put the Node that package.json pins (the `node` package) first on the PATH; a bare
// `node test/run.mjs` may find the machine's own, older one, which cannot run TypeScript.
const pinnedNode = join(root, 'node_modules', '.bin', 'node');
if (Number(process.versions.node.split('.')[0]) < 26) {
  console.error(`run.mjs: Node ${process.version} runs this, but Pier needs the Node that package.json pins: run \`npm test\`, or ${relative(process.cwd(), pinnedNode) || pinnedNode} test/run.mjs (after npm ci)`);
  process.exit(1);
}

function findTests(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'node_modules' ? [] : findTests(path);
    return name.endsWith('.test.ts') ? [relative(root, path)] : [];
  });
}

function cluster(command, stdio = 'inherit') {
  return spawnSync('bash', [clusterScript, command], { cwd: root, stdio }).status;
}

const only = process.argv.slice(2);
const files = only.length > 0 ? only : findTests(join(root, 'test')).sort();
// A caller-provided PIER_TEST_KUBECONFIG means "use that cluster": don't manage one here.
const manageCluster = process.env.PIER_TEST_KUBECONFIG === undefined;
const usesClusterHelper = (file) => {
  const path = resolve(root, file);
  return existsSync(path) && /helpers\/cluster(\.ts)?['"]/.test(readFileSync(path, 'utf8'));
};
const needsCluster = files.some(usesClusterHelper);
const wasUp = manageCluster && cluster('status', 'ignore') === 0;

// Suites that drive a real browser (the dashboard's) need Debian's Chromium: install it once, as
// the README's test command must install what it needs on a new machine.
const CHROMIUM = '/usr/bin/chromium';
const usesBrowser = (file) => {
  const path = resolve(root, file);
  return existsSync(path) && /helpers\/browser(\.ts)?['"]/.test(readFileSync(path, 'utf8'));
};
if (files.some(usesBrowser) && !existsSync(CHROMIUM)) {
  console.error('run.mjs: installing Debian\'s chromium for the browser tests (apt-get)');
  const installed = spawnSync('bash', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium'], { stdio: 'inherit' });
  if (installed.status !== 0 || !existsSync(CHROMIUM)) {
    console.error(`run.mjs: chromium could not be installed (apt-get install chromium needs root); not running the tests`);
    process.exit(1);
  }
}

const env = { ...process.env };
if (manageCluster && needsCluster) {
  if (!wasUp && cluster('up') !== 0) {
    console.error('run.mjs: the test control plane did not start (see above); not running the tests');
    cluster('down');
    process.exit(1);
  }
  env.PIER_TEST_KUBECONFIG = clusterKubeconfig;
}

// Stop the control plane on Ctrl-C too; the child gets the same SIGINT and exits on its own.
const ignoreSignal = () => {};
process.on('SIGINT', ignoreSignal).on('SIGTERM', ignoreSignal);
const skippedList = join(mkdtempSync(join(tmpdir(), 'pier-test-run-')), 'skipped.txt');
const reporters = ['--test-reporter=spec', '--test-reporter-destination=stdout', `--test-reporter=${join(root, 'test', 'helpers', 'skip-reporter.mjs')}`, `--test-reporter-destination=${skippedList}`];
const result = spawnSync(process.execPath, ['--test', ...reporters, ...files], {
  cwd: root,
  stdio: 'inherit',
  env,
  timeout: WHOLE_RUN_TIMEOUT_MS,
});
if (result.error?.code === 'ETIMEDOUT') {
  console.error(`run.mjs: the tests were still running after ${WHOLE_RUN_TIMEOUT_MS / 60_000} min (a test process that never exits?); stopped them`);
}
// Also catches a control plane that a suite started itself through ensureControlPlane().
if (manageCluster && !wasUp && existsSync(join(root, '.cluster'))) cluster('down');
// A skipped test would pass silently where it can't run (no root, no test hosts): fail instead.
const skipped = existsSync(skippedList) ? readFileSync(skippedList, 'utf8').trim() : '';
if (skipped !== '') {
  console.error(`run.mjs: these tests were skipped, which fails the run (each needs something this machine lacks; see its reason):\n${skipped}`);
  process.exit(result.status || 1);
}
process.exit(result.status ?? 1);

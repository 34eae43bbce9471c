// `npm run deploy-manifest`: writes deploy/pier.yaml, the chart with its defaults in one file, so
// `kubectl apply -f deploy/pier.yaml` installs Pier without Node. It is what `npx cdk8s synth`
// writes to dist/; test/charts/deploy-manifest.test.ts fails when the committed copy is stale.
import { writeFileSync } from 'node:fs';
import { App } from 'cdk8s';
import { PierChart } from './pier-chart.ts';

export const DEPLOY_MANIFEST_HEADER = [
  '# Pier, installed with one command: kubectl apply -f deploy/pier.yaml',
  '# Generated from charts-ts/ by `npm run deploy-manifest` (the same objects `npx cdk8s synth` writes',
  '# to dist/); edit the chart, not this file. To change the defaults, use the chart (README, "Install").',
  '',
].join('\n');

export function deployManifest(): string {
  const app = new App();
  new PierChart(app, 'pier');
  return DEPLOY_MANIFEST_HEADER + app.synthYaml();
}

if (import.meta.main) writeFileSync(new URL('../deploy/pier.yaml', import.meta.url), deployManifest());

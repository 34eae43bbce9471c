// `npx cdk8s synth` runs this (see cdk8s.yaml): it writes dist/pier.k8s.yaml with the defaults.
import { App } from 'cdk8s';
import { PierChart } from './pier-chart.ts';

const app = new App();
new PierChart(app, 'pier');
app.synth();

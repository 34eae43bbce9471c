// Tables for the IngressClass rules (ingress-semantics.md, "IngressClass"): which Ingresses are ours.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../operator/model.ts';
import type { RouteOptions } from '../../operator/routes/types.ts';
import { backend, ingress, ingressClass } from '../helpers/objects.ts';
import { compute } from './route-helpers.ts';

const rules = [{ host: 'foo.com', paths: [{ path: '/', service: 'web' }] }];

interface ClassCase {
  readonly name: string;
  readonly objects: KubeObject[];
  readonly options?: Partial<RouteOptions>;
  readonly served: boolean;
}

const CASES: ClassCase[] = [
  { name: 'An Ingress naming an IngressClass whose controller is ours is served', objects: [ingressClass('pier'), ingress('i', { className: 'pier', rules })], served: true },
  { name: 'Any class name works when its IngressClass has our controller', objects: [ingressClass('edge'), ingress('i', { className: 'edge', rules })], served: true },
  { name: "An Ingress naming another controller's IngressClass is not served", objects: [ingressClass('pier'), ingressClass('nginx', 'k8s.io/ingress-nginx'), ingress('i', { className: 'nginx', rules })], served: false },
  { name: 'An Ingress naming an IngressClass that does not exist is not served', objects: [ingressClass('other'), ingress('i', { className: 'pier', rules })], served: false },
  { name: 'An Ingress without a class is not served by default', objects: [ingressClass('pier'), ingress('i', { rules })], served: false },
  { name: 'An Ingress without a class is served when our IngressClass is the default class', objects: [ingressClass('pier', 'pier.dev/ingress-controller', true), ingress('i', { rules })], served: true },
  { name: "Another controller's default class does not make classless Ingresses ours", objects: [ingressClass('nginx', 'k8s.io/ingress-nginx', true), ingress('i', { rules })], served: false },
  { name: 'An Ingress without a class is served with --watch-ingress-without-class', objects: [ingress('i', { rules })], options: { watchIngressWithoutClass: true }, served: true },
  { name: 'The kubernetes.io/ingress.class annotation with our --ingress-class is honoured', objects: [ingress('i', { annotations: { 'kubernetes.io/ingress.class': 'pier' }, rules })], served: true },
  { name: 'The kubernetes.io/ingress.class annotation wins over spec.ingressClassName', objects: [ingressClass('pier'), ingress('i', { className: 'pier', annotations: { 'kubernetes.io/ingress.class': 'nginx' }, rules })], served: false },
  { name: 'The annotation may also name one of our IngressClasses', objects: [ingressClass('edge'), ingress('i', { annotations: { 'kubernetes.io/ingress.class': 'edge' }, rules })], served: true },
  { name: 'A custom --controller-class decides which IngressClasses are ours', objects: [ingressClass('x', 'example.com/custom'), ingress('i', { className: 'x', rules })], options: { controllerClass: 'example.com/custom' }, served: true },
];

describe('IngressClass ownership', () => {
  for (const testCase of CASES) {
    it(testCase.name, () => {
      const result = compute([...backend('web'), ...testCase.objects], testCase.options, false);
      const servedNames = result.statuses.map((status) => status.ingress.name);
      assert.deepEqual(servedNames, testCase.served ? ['i'] : []);
      assert.deepEqual(result.ignored.map((ref) => ref.name), testCase.served ? [] : ['i']);
      assert.equal(result.table.virtualHosts.length, testCase.served ? 1 : 0, 'an Ingress that is not ours is never routed');
    });
  }

  it('warns when an Ingress names our --ingress-class but that IngressClass does not exist', () => {
    const result = compute([ingress('i', { className: 'pier', rules })], {}, false);
    assert.deepEqual(result.warnings.map((warning) => warning.reason), ['IngressClassNotFound']);
  });

  it('lists every served Ingress for status, and the ones it ignores apart', () => {
    const result = compute(
      [ingressClass('pier'), ingressClass('nginx', 'k8s.io/ingress-nginx'), ...backend('web'), ingress('mine', { className: 'pier', rules }), ingress('theirs', { className: 'nginx', rules })],
      {},
      false,
    );
    assert.deepEqual(result.statuses, [{ ingress: { namespace: 'default', name: 'mine' } }]);
    assert.deepEqual(result.ignored, [{ namespace: 'default', name: 'theirs' }]);
  });
});

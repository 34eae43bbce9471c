// Synthesizes Pier's chart in memory (cdk8s Testing) and finds objects in the result.
import assert from 'node:assert/strict';
import { Testing } from 'cdk8s';
import { PierChart, type PierChartProps } from '../../charts-ts/pier-chart.ts';

/** A synthesized Kubernetes object; the tests reach into its fields as the YAML has them. */
export interface Manifest {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly [field: string]: any };
  readonly [field: string]: any;
}

export function synthesizePier(props: PierChartProps = {}): Manifest[] {
  return Testing.synth(new PierChart(Testing.app(), 'pier', props)) as Manifest[];
}

export function findObject(manifests: readonly Manifest[], kind: string, name: string): Manifest {
  const matches = manifests.filter((object) => object.kind === kind && object.metadata.name === name);
  assert.equal(matches.length, 1, `expected exactly one ${kind} ${name}, found ${matches.length}`);
  return matches[0]!;
}

export interface PolicyRule {
  readonly apiGroups?: string[];
  readonly resources?: string[];
  readonly resourceNames?: string[];
  readonly verbs: string[];
}

/**
 * `group/resource` (core as `core/resource`) → sorted verbs, merged over all rules.
 * Rules with resourceNames are left to the caller: they grant less than the whole resource.
 */
export function verbsByResource(rules: readonly PolicyRule[]): Record<string, string[]> {
  const verbs = new Map<string, Set<string>>();
  for (const rule of rules) {
    if (rule.resourceNames !== undefined && rule.resourceNames.length > 0) continue;
    for (const group of rule.apiGroups ?? []) {
      for (const resource of rule.resources ?? []) {
        const key = `${group === '' ? 'core' : group}/${resource}`;
        const granted = verbs.get(key) ?? new Set<string>();
        for (const verb of rule.verbs) granted.add(verb);
        verbs.set(key, granted);
      }
    }
  }
  return Object.fromEntries([...verbs].map(([key, set]) => [key, [...set].sort()]));
}

// Admission without a webhook server: ValidatingAdmissionPolicies (admissionregistration.k8s.io/v1,
// CEL evaluated by the API server itself) for Ingresses of Pier's class. Nothing runs what a user
// writes, and there is no pod to reach: the opposite of ingress-nginx's admission webhook, which
// ran `nginx -t` on injected configuration (CVE-2025-1974). One policy denies what is certainly
// wrong (snippets, control characters, values of the wrong shape, from the annotation registry's
// key facts); a second only warns where a user may reasonably disagree (keys Pier doesn't know or
// doesn't implement yet, which it ignores). Pier still reports and refuses all of it itself when
// the policy is off or the cluster predates it. cdk8s-plus-27's L1 types predate the v1 API, so
// these are plain ApiObjects.
import { Construct } from 'constructs';
import { ApiObject } from 'cdk8s';
import { KEY_FACTS, type ValueKind } from '../operator/annotations/key-facts.ts';
import { INGRESS_NGINX_KEYS } from '../operator/annotations/ingress-nginx-keys.ts';

export interface AnnotationAdmissionPolicyProps {
  /** The IngressClass whose Ingresses are checked. */
  readonly ingressClass: string;
  /** The annotation prefix (`--annotations-prefix`). */
  readonly prefix: string;
}

export const DENY_POLICY_NAME = 'pier-ingress-annotations';
export const WARN_POLICY_NAME = 'pier-ingress-annotations-advice';

/** A CEL string literal. */
function literal(text: string): string {
  return `'${text.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}

function list(values: readonly string[]): string {
  return `[${values.map(literal).join(', ')}]`;
}

/** The CEL condition a value `v` of this kind meets (v is a string). */
function condition(kind: ValueKind): string | null {
  switch (kind.kind) {
    case 'boolean':
      return `v in ['true', 'false']`;
    case 'count':
      return `v.matches('^[0-9]{1,9}$')`;
    case 'size':
      return `v.matches('^[0-9]{1,12}[bkmgBKMG]?$')`;
    case 'cidrs':
      return `v.split(',').all(c, isIP(c.trim()) || isCIDR(c.trim()))`;
    case 'status':
      return `v.matches('^[1-5][0-9][0-9]$')`;
    case 'statuses':
      return `v.matches('^\\\\s*[1-5][0-9][0-9](\\\\s*,\\\\s*[1-5][0-9][0-9])*\\\\s*$')`;
    case 'url':
      return `v.matches('^https?://[^\\\\s]+$')`;
    case 'cacheDuration':
      return `v.matches('^\\\\s*(((([1-5][0-9][0-9]|any)\\\\s+)*[0-9]+(ms|s|m|h|d|w|M|y)(\\\\s+[0-9]+(ms|s|m|h|d|w|M|y))*)?\\\\s*(,\\\\s*|$))*$')`;
    case 'oneOf':
      return kind.anyCase ? `v.lowerAscii() in ${list(kind.values.map((value) => value.toLowerCase()))}` : `v in ${list(kind.values)}`;
    case 'text':
      return null;
  }
}

/** What a user is told a value of this kind must be. */
function expectation(kind: ValueKind): string {
  switch (kind.kind) {
    case 'boolean': return 'must be "true" or "false"';
    case 'count': return 'must be a whole number';
    case 'size': return 'must be a size such as 1m, 512k or 0';
    case 'cidrs': return 'must be IP addresses or CIDRs separated by commas';
    case 'status': return 'must be an HTTP status code';
    case 'statuses': return 'must be HTTP status codes separated by commas';
    case 'url': return 'must be an http:// or https:// URL';
    case 'cacheDuration': return 'must be status codes then a time, such as "200 202 401 5m"';
    case 'oneOf': return `must be one of ${kind.values.join(', ')}`;
    case 'text': return '';
  }
}

/** One validation per value shape: every key of that shape checked, the first bad one named. */
function shapeValidations(prefix: string): object[] {
  const byShape = new Map<string, { kind: ValueKind; keys: string[] }>();
  for (const [name, facts] of Object.entries(KEY_FACTS)) {
    if (condition(facts.value) === null) continue;
    const shape = JSON.stringify(facts.value);
    const entry = byShape.get(shape) ?? { kind: facts.value, keys: [] };
    entry.keys.push(`${prefix}/${name}`);
    byShape.set(shape, entry);
  }
  return [...byShape.values()].map(({ kind, keys }) => {
    const check = (condition(kind) as string).replaceAll(/\bv\b/g, 'variables.annotations[k]');
    const bad = `variables.keys.filter(k, k in ${list(keys)} && !(${check}))`;
    return {
      expression: `${bad}.size() == 0`,
      messageExpression: `'annotation ' + ${bad}[0] + ': "' + variables.annotations[${bad}[0]] + '" ${expectation(kind).replaceAll("'", "\\'")}'`,
      reason: 'Invalid',
    };
  });
}

export class AnnotationAdmissionPolicy extends Construct {
  constructor(scope: Construct, id: string, props: AnnotationAdmissionPolicyProps) {
    super(scope, id);
    const { prefix, ingressClass } = props;
    const matchConstraints = {
      resourceRules: [{ apiGroups: ['networking.k8s.io'], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['ingresses'] }],
    };
    // Ingresses of Pier's class, by spec.ingressClassName or the older annotation.
    const matchConditions = [{
      name: 'pier-class',
      expression: `(has(object.spec.ingressClassName) && object.spec.ingressClassName == ${literal(ingressClass)}) || (has(object.metadata.annotations) && 'kubernetes.io/ingress.class' in object.metadata.annotations && object.metadata.annotations['kubernetes.io/ingress.class'] == ${literal(ingressClass)})`,
    }];
    const variables = [
      { name: 'annotations', expression: 'has(object.metadata.annotations) ? object.metadata.annotations : {}' },
      { name: 'keys', expression: `variables.annotations.filter(k, k.startsWith(${literal(`${prefix}/`)}))` },
    ];
    const snippets = `variables.keys.filter(k, k.endsWith('-snippet'))`;
    const controlled = `variables.keys.filter(k, variables.annotations[k].matches('[\\\\x00-\\\\x1f\\\\x7f]'))`;
    new ApiObject(this, 'DenyPolicy', {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name: DENY_POLICY_NAME },
      spec: {
        failurePolicy: 'Fail',
        matchConstraints,
        matchConditions,
        variables,
        validations: [
          { expression: `${snippets}.size() == 0`, messageExpression: `'annotation ' + ${snippets}[0] + ' is refused: Pier never runs configuration text from an Ingress'`, reason: 'Forbidden' },
          { expression: `${controlled}.size() == 0`, messageExpression: `'annotation ' + ${controlled}[0] + ' holds a control character or line break'`, reason: 'Invalid' },
          ...shapeValidations(prefix),
        ],
      },
    });
    new ApiObject(this, 'DenyBinding', {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: { name: DENY_POLICY_NAME },
      spec: { policyName: DENY_POLICY_NAME, validationActions: ['Deny'] },
    });
    const known = [...new Set([...Object.keys(KEY_FACTS), ...Object.values(INGRESS_NGINX_KEYS).flat()])].map((name) => `${prefix}/${name}`).sort();
    const unsupported = Object.values(INGRESS_NGINX_KEYS).flat().filter((name) => KEY_FACTS[name] === undefined && !name.endsWith('-snippet')).map((name) => `${prefix}/${name}`).sort();
    const unknownKeys = `variables.keys.filter(k, !(k in ${list(known)}))`;
    const unsupportedKeys = `variables.keys.filter(k, k in ${list(unsupported)})`;
    new ApiObject(this, 'WarnPolicy', {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name: WARN_POLICY_NAME },
      spec: {
        failurePolicy: 'Ignore',
        matchConstraints,
        matchConditions,
        variables,
        validations: [
          { expression: `${unknownKeys}.size() == 0`, messageExpression: `'annotation ' + ${unknownKeys}[0] + ' is not one ingress-nginx documents or Pier knows (a typo?); Pier ignores it'` },
          { expression: `${unsupportedKeys}.size() == 0`, messageExpression: `'annotation ' + ${unsupportedKeys}[0] + ' is not supported by Pier yet; Pier ignores it (guards such as auth-tls-* close the location instead)'` },
        ],
      },
    });
    new ApiObject(this, 'WarnBinding', {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: { name: WARN_POLICY_NAME },
      spec: { policyName: WARN_POLICY_NAME, validationActions: ['Warn'] },
    });
  }
}

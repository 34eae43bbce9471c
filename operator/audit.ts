// `pier audit`: what changes for each Ingress if Pier serves it, before any traffic moves. Every
// Ingress is read as if it named Pier's class (whatever it names now, e.g. `nginx`), through the
// same annotation registry and route engine that serve traffic, so the audit can't promise what
// the proxy won't do. Pure: a snapshot in, a report out.
import type { Ingress } from './model.ts';
import type { Snapshot } from './store.ts';
import { computeRoutes } from './routes/compute.ts';
import type { RouteOptions, RouteWarning } from './routes/types.ts';
import { readAnnotations } from './annotations/registry.ts';
import { ingressNginxFamilyOf } from './annotations/ingress-nginx-keys.ts';
import { KEY_FACTS } from './annotations/key-facts.ts';

/**
 * supported: Pier does what ingress-nginx does; partial: it does, with a stated difference;
 * invalid: the value is one neither would use as written; unsupported: ingress-nginx documents the
 * key, Pier doesn't implement it (yet); refused: Pier never runs it (snippets); unknown: no one
 * documents it (a typo?).
 */
export type AnnotationStatus = 'supported' | 'partial' | 'invalid' | 'unsupported' | 'refused' | 'unknown';

export interface AuditedAnnotation {
  readonly key: string;
  readonly status: AnnotationStatus;
  readonly message: string;
}

export interface AuditedIngress {
  readonly namespace: string;
  readonly name: string;
  /** spec.ingressClassName, else the kubernetes.io/ingress.class annotation, else null. */
  readonly class: string | null;
  readonly annotations: readonly AuditedAnnotation[];
  /** What else changes or needs attention: missing Services and Secrets, paths matched differently, conflicts. */
  readonly findings: readonly string[];
}

export interface AuditReport {
  readonly ingresses: readonly AuditedIngress[];
}

/** The statuses `--strict` fails on: what Pier won't do as the Ingress says. */
export const STRICT_FAILURES: ReadonlySet<AnnotationStatus> = new Set(['invalid', 'unsupported', 'refused', 'unknown']);

const LEGACY_CLASS_ANNOTATION = 'kubernetes.io/ingress.class';
/** Characters that make an ImplementationSpecific path a regular expression in ingress-nginx's eyes. */
const REGEX_CHARACTERS = /[\^$*+?()[\]{}|\\]/;

function classOf(ingress: Ingress): string | null {
  return ingress.spec.ingressClassName ?? ingress.metadata.annotations?.[LEGACY_CLASS_ANNOTATION] ?? null;
}

/** The Ingress as if it named Pier's class. */
function asPiers(ingress: Ingress, className: string): Ingress {
  const { [LEGACY_CLASS_ANNOTATION]: _legacy, ...annotations } = ingress.metadata.annotations ?? {};
  return { ...ingress, metadata: { ...ingress.metadata, annotations }, spec: { ...ingress.spec, ingressClassName: className } };
}

function annotationStatuses(ingress: Ingress, prefix: string): { annotations: AuditedAnnotation[]; messages: Set<string> } {
  const { problems } = readAnnotations(ingress, prefix);
  const byKey = new Map(problems.map((problem) => [problem.key, problem]));
  const start = `${prefix}/`;
  const annotations: AuditedAnnotation[] = [];
  for (const key of Object.keys(ingress.metadata.annotations ?? {}).sort()) {
    if (!key.startsWith(start)) continue;
    const name = key.slice(start.length);
    const problem = byKey.get(key);
    if (problem?.reason === 'RefusedAnnotation') annotations.push({ key, status: 'refused', message: problem.message });
    else if (problem?.reason === 'UnsupportedAnnotation') annotations.push({ key, status: ingressNginxFamilyOf(name) === undefined ? 'unknown' : 'unsupported', message: problem.message });
    else if (problem?.reason === 'InvalidAnnotation') annotations.push({ key, status: 'invalid', message: problem.message });
    else if (KEY_FACTS[name]?.differs !== undefined) annotations.push({ key, status: 'partial', message: KEY_FACTS[name].differs });
    else annotations.push({ key, status: 'supported', message: '' });
  }
  return { annotations, messages: new Set(problems.map((problem) => problem.message)) };
}

/** Paths that read as regular expressions but aren't matched as such, and paths a host's regex mode changes. */
function pathFindings(ingress: Ingress, regexRoutes: ReadonlySet<string>, prefix: string): string[] {
  const findings: string[] = [];
  const annotations = ingress.metadata.annotations ?? {};
  const ownRegex = annotations[`${prefix}/use-regex`] === 'true' || annotations[`${prefix}/rewrite-target`] !== undefined;
  for (const rule of ingress.spec.rules ?? []) {
    for (const httpPath of rule.http?.paths ?? []) {
      const path = httpPath.path ?? '/';
      const where = `host ${rule.host ?? '(any host)'} path ${path}`;
      const matchedAsRegex = regexRoutes.has(`${rule.host ?? ''}\n${path}`);
      if (httpPath.pathType === 'ImplementationSpecific' && REGEX_CHARACTERS.test(path) && !matchedAsRegex) {
        findings.push(`${where} looks like a regular expression, but use-regex isn't set: it is matched as a literal prefix (as ingress-nginx does)`);
      } else if (matchedAsRegex && !ownRegex && httpPath.pathType !== 'ImplementationSpecific') {
        findings.push(`${where} (${httpPath.pathType}) is matched as a case-insensitive regular expression: another Ingress of the host uses use-regex or rewrite-target (ingress-nginx does the same), so a Prefix path also matches longer names (/foo takes /foobar)`);
      }
    }
  }
  return findings;
}

export interface AuditOptions extends RouteOptions {
  /** Whether the snapshot holds the EndpointSlices (a cluster) or not (manifest files seldom do): only then is "no ready endpoints" a finding. */
  readonly endpointsKnown: boolean;
}

export function auditIngresses(snapshot: Snapshot, options: AuditOptions): AuditReport {
  const className = options.ingressClass;
  const rewritten = snapshot.ingresses.map((ingress) => asPiers(ingress, className));
  const auditClass = { apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name: className }, spec: { controller: options.controllerClass } } as Snapshot['ingressClasses'][number];
  const result = computeRoutes({ ...snapshot, ingresses: rewritten, ingressClasses: [auditClass] }, options);
  const warningsOf = new Map<string, RouteWarning[]>();
  for (const warning of result.warnings) {
    if (warning.kind !== 'Ingress' || (warning.reason === 'NoReadyEndpoints' && !options.endpointsKnown)) continue;
    const key = `${warning.namespace ?? ''}/${warning.name}`;
    warningsOf.set(key, [...(warningsOf.get(key) ?? []), warning]);
  }
  const regexRoutes = new Map<string, Set<string>>();
  for (const virtualHost of result.table.virtualHosts) {
    for (const route of virtualHost.routes) {
      if (route.match !== 'regex') continue;
      const key = `${route.ingress.namespace}/${route.ingress.name}`;
      regexRoutes.set(key, (regexRoutes.get(key) ?? new Set()).add(`${virtualHost.host}\n${route.path}`));
    }
  }
  const ingresses = snapshot.ingresses.map((ingress): AuditedIngress => {
    const namespace = ingress.metadata.namespace ?? '';
    const key = `${namespace}/${ingress.metadata.name}`;
    const { annotations, messages } = annotationStatuses(ingress, options.annotationsPrefix);
    const engineFindings = (warningsOf.get(key) ?? []).filter((warning) => !messages.has(warning.message)).map((warning) => warning.message);
    return { namespace, name: ingress.metadata.name, class: classOf(ingress), annotations, findings: [...engineFindings, ...pathFindings(ingress, regexRoutes.get(key) ?? new Set(), options.annotationsPrefix)] };
  });
  return { ingresses: ingresses.sort((a, b) => (a.namespace === b.namespace ? (a.name < b.name ? -1 : 1) : a.namespace < b.namespace ? -1 : 1)) };
}

/** True when `--strict` should fail: an annotation Pier won't honour as written. */
export function failsStrict(report: AuditReport): boolean {
  return report.ingresses.some((ingress) => ingress.annotations.some((annotation) => STRICT_FAILURES.has(annotation.status)));
}

/** The human table: one block per Ingress, a line per annotation and finding. */
export function formatAudit(report: AuditReport): string {
  const lines: string[] = [];
  const counts = new Map<AnnotationStatus, number>();
  for (const ingress of report.ingresses) {
    lines.push(`${ingress.namespace}/${ingress.name} (class ${ingress.class ?? 'none'})`);
    if (ingress.annotations.length === 0 && ingress.findings.length === 0) lines.push('  nothing to change');
    const width = Math.max(0, ...ingress.annotations.map((annotation) => annotation.key.length));
    for (const annotation of ingress.annotations) {
      counts.set(annotation.status, (counts.get(annotation.status) ?? 0) + 1);
      lines.push(`  ${annotation.status.toUpperCase().padEnd(11)} ${annotation.key.padEnd(width)}${annotation.message ? `  ${annotation.message}` : ''}`.trimEnd());
    }
    for (const finding of ingress.findings) lines.push(`  FINDING     ${finding}`);
    lines.push('');
  }
  const summary = (['supported', 'partial', 'invalid', 'unsupported', 'refused', 'unknown'] as const).map((status) => `${counts.get(status) ?? 0} ${status}`).join(', ');
  lines.push(`${report.ingresses.length} Ingresses; annotations: ${summary}`);
  return `${lines.join('\n')}\n`;
}

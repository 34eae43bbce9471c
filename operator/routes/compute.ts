// computeRoutes: Kubernetes objects in, route table, statuses and warnings out. Pure and
// deterministic: no clock, no I/O, and the same snapshot always gives the same result.
import type { Ingress, IngressBackend } from '../model.ts';
import type { Snapshot } from '../store.ts';
import { firstPortOf, portRefOf, resolveServiceBackend } from './backends.ts';
import { indexClasses, ownership } from './ownership.ts';
import type {
  FallbackSpec,
  MatchKind,
  ObjectRef,
  RouteComputation,
  RouteOptions,
  RouteSpec,
  RouteWarning,
  UpstreamSpec,
  VirtualHostSpec,
  WarningReason,
} from './types.ts';
import { checkHost, checkPath } from './validation.ts';
import { prefixKey } from '../../proxy/route-spec.ts';
import { CertificateCache, resolveTls } from './tls.ts';
import { controllerSettings } from './https-settings.ts';
import { BACKEND_PROTOCOLS, type BackendProtocol } from './types.ts';

const MATCH_RANK: Record<MatchKind, number> = { exact: 0, prefix: 1, regex: 2 };

interface VirtualHostDraft {
  readonly host: string;
  readonly routes: RouteSpec[];
  /** Which Ingress holds each (match, path), so the younger of two claimants can be warned. */
  readonly claims: Map<string, ObjectRef>;
  fallback: FallbackSpec | null;
}

/** Oldest first; ties broken by namespace, then name, as the semantics doc requires. */
function byAge(a: Ingress, b: Ingress): number {
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  if (ta !== tb) return ta < tb ? -1 : 1;
  const na = a.metadata.namespace ?? '';
  const nb = b.metadata.namespace ?? '';
  if (na !== nb) return na < nb ? -1 : 1;
  return a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0;
}

/** The length a route competes with: longest wins; Exact beats Prefix beats regex on a tie. */
function routeOrder(a: RouteSpec, b: RouteSpec): number {
  const la = a.match === 'prefix' ? prefixKey(a.path).length : a.path.length;
  const lb = b.match === 'prefix' ? prefixKey(b.path).length : b.path.length;
  if (la !== lb) return lb - la;
  if (a.match !== b.match) return MATCH_RANK[a.match] - MATCH_RANK[b.match];
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}

function describeRef(ref: ObjectRef): string {
  return `${ref.namespace}/${ref.name}`;
}

/** An annotation that must be "true" or "false": its value, or undefined (with a warning) when it's anything else. */
function booleanAnnotation(value: string | undefined, name: string, warn: (reason: WarningReason, message: string) => void): boolean | undefined {
  if (value === undefined) return undefined;
  if (value === 'true' || value === 'false') return value === 'true';
  warn('InvalidAnnotation', `annotation ${name}: "${value}" is neither "true" nor "false"; ignored`);
  return undefined;
}

function backendProtocolOf(value: string | undefined, name: string, warn: (reason: WarningReason, message: string) => void): BackendProtocol {
  if (value === undefined) return 'HTTP';
  const upper = value.trim().toUpperCase();
  if ((BACKEND_PROTOCOLS as readonly string[]).includes(upper)) return upper as BackendProtocol;
  warn('InvalidAnnotation', `annotation ${name}: "${value}" is not supported (use ${BACKEND_PROTOCOLS.join(', ')}); HTTP is used`);
  return 'HTTP';
}

export function computeRoutes(snapshot: Snapshot, options: RouteOptions): RouteComputation {
  const warnings: RouteWarning[] = [];
  const upstreams = new Map<string, UpstreamSpec>();
  const virtualHosts = new Map<string, VirtualHostDraft>();
  const ignored: ObjectRef[] = [];
  const served: Ingress[] = [];
  let defaultBackend: FallbackSpec | null = null;

  const classes = indexClasses(snapshot.ingressClasses, options.controllerClass);
  for (const ingress of snapshot.ingresses) {
    const owner = ownership(ingress, classes, options);
    const ref = { namespace: ingress.metadata.namespace ?? '', name: ingress.metadata.name };
    if (owner.ours) {
      served.push(ingress);
      continue;
    }
    ignored.push(ref);
    if (owner.missingClass === options.ingressClass) {
      warnings.push({
        kind: 'Ingress',
        ...ref,
        reason: 'IngressClassNotFound',
        message: `IngressClass "${owner.missingClass}" does not exist, so this Ingress is not served; create it with spec.controller: ${options.controllerClass}`,
      });
    }
  }
  served.sort(byAge);

  const configMap = options.configMap ? snapshot.configMaps.get(describeRef(options.configMap)) : undefined;
  const { settings, problems } = controllerSettings(configMap);
  for (const problem of problems) {
    warnings.push({ kind: 'ConfigMap', namespace: options.configMap?.namespace, name: options.configMap?.name ?? '', reason: 'InvalidConfigMap', message: problem });
  }
  const defaultSslCertificate = options.defaultSslCertificate ?? null;
  const tls = resolveTls({
    snapshot,
    served,
    defaultSslCertificate,
    now: options.now,
    cache: options.certificateCache ?? new CertificateCache(),
    warn: (ingress, reason, message) => {
      const where = ingress ?? { namespace: defaultSslCertificate?.namespace ?? '', name: defaultSslCertificate?.name ?? '' };
      warnings.push({ kind: ingress ? 'Ingress' : 'Secret', ...where, reason, message });
    },
  });

  for (const ingress of served) {
    const ref: ObjectRef = { namespace: ingress.metadata.namespace ?? '', name: ingress.metadata.name };
    const warn = (reason: WarningReason, message: string): void => {
      warnings.push({ kind: 'Ingress', ...ref, reason, message });
    };
    const reportedUpstreams = new Set<string>();

    /** The upstream id for a backend, or null (with a warning) when it can't be used. */
    const upstreamFor = (backend: IngressBackend, where: string): string | null => {
      if (!backend.service) {
        const resource = backend.resource;
        warn('UnsupportedBackend', `${where}: resource backends (${resource?.kind ?? 'unknown'} ${resource?.name ?? ''}) are not supported; ignored`);
        return null;
      }
      const resolved = resolveServiceBackend(snapshot, ref.namespace, backend.service.name, portRefOf(backend.service), protocol);
      upstreams.set(resolved.upstream.id, resolved.upstream);
      if (resolved.problem && !reportedUpstreams.has(resolved.upstream.id)) {
        reportedUpstreams.add(resolved.upstream.id);
        warn(resolved.problem.reason, resolved.problem.message);
      }
      return resolved.upstream.id;
    };

    const annotation = (name: string): [string | undefined, string] => {
      const key = `${options.annotationsPrefix}/${name}`;
      return [ingress.metadata.annotations?.[key], key];
    };
    const useRegex = annotation('use-regex')[0] === 'true';
    const protocol = backendProtocolOf(...annotation('backend-protocol'), warn);
    const sslRedirect = booleanAnnotation(...annotation('ssl-redirect'), warn) ?? settings.sslRedirect;
    const forceSslRedirect = booleanAnnotation(...annotation('force-ssl-redirect'), warn) ?? settings.forceSslRedirect;
    /** As nginx does per location: always when forced, else when the host has TLS and ssl-redirect isn't off. */
    const httpsRedirectFor = (host: string): boolean => forceSslRedirect || (sslRedirect && tls.hasTls(host));
    const ownDefault = ingress.spec.defaultBackend ? upstreamFor(ingress.spec.defaultBackend, 'spec.defaultBackend') : null;
    // The Ingress-wide fallback redirects when any host of this Ingress does (it serves all of them).
    const ruleHosts = (ingress.spec.rules ?? []).map((rule) => checkHost(rule.host)).flatMap((host) => (host.ok ? [host.value] : []));
    const fallbackRedirects = forceSslRedirect || (sslRedirect && ruleHosts.some((host) => tls.hasTls(host)));
    const ownFallback: FallbackSpec | null = ownDefault ? { upstream: ownDefault, ingress: ref, ...(fallbackRedirects ? { httpsRedirect: true } : {}) } : null;
    if (ownFallback) {
      if (defaultBackend === null) defaultBackend = ownFallback;
      else if (defaultBackend.ingress) {
        warn('DefaultBackendConflict', `spec.defaultBackend serves only this Ingress's hosts: requests for other hosts go to the default backend of Ingress ${describeRef(defaultBackend.ingress)}, which is older`);
      }
    }

    (ingress.spec.rules ?? []).forEach((rule, ruleIndex) => {
      const host = checkHost(rule.host);
      if (!host.ok) {
        warn('InvalidHost', `spec.rules[${ruleIndex}]: ${host.error}; rule ignored`);
        return;
      }
      let virtualHost = virtualHosts.get(host.value);
      if (!virtualHost) {
        virtualHost = { host: host.value, routes: [], claims: new Map(), fallback: null };
        virtualHosts.set(host.value, virtualHost);
      }
      if (virtualHost.fallback === null && ownFallback) virtualHost.fallback = ownFallback;

      (rule.http?.paths ?? []).forEach((httpPath, pathIndex) => {
        const where = `spec.rules[${ruleIndex}].http.paths[${pathIndex}]`;
        const checked = checkPath(httpPath.path, httpPath.pathType, useRegex);
        if (!checked.ok) {
          warn('InvalidPath', `${where}: ${checked.error}; path ignored`);
          return;
        }
        const { path, match } = checked.value;
        const claimKey = `${match}\n${match === 'prefix' ? prefixKey(path) : path}`;
        const holder = virtualHost.claims.get(claimKey);
        if (holder) {
          const hostName = host.value === '' ? '(any host)' : host.value;
          warn(
            'PathConflict',
            holder === ref
              ? `${where}: host ${hostName} path ${path} (${httpPath.pathType}) is listed twice in this Ingress; the first one is used`
              : `${where}: host ${hostName} path ${path} (${httpPath.pathType}) is already served by Ingress ${describeRef(holder)}, which is older; this path is ignored`,
          );
          return;
        }
        const upstream = upstreamFor(httpPath.backend, where);
        if (upstream === null) return;
        virtualHost.claims.set(claimKey, ref);
        const httpsRedirect = httpsRedirectFor(host.value);
        virtualHost.routes.push({ path, match, pathType: httpPath.pathType, upstream, ingress: ref, ...(httpsRedirect ? { httpsRedirect } : {}) });
      });
    });
  }

  if (defaultBackend === null && options.defaultBackendService) {
    const { namespace, name } = options.defaultBackendService;
    const port = firstPortOf(snapshot, namespace, name);
    const resolved = resolveServiceBackend(snapshot, namespace, name, port ?? { number: 0 });
    upstreams.set(resolved.upstream.id, resolved.upstream);
    if (resolved.problem || !port) {
      warnings.push({
        kind: 'Service',
        namespace,
        name,
        reason: resolved.problem?.reason ?? 'ServicePortNotFound',
        message: `--default-backend-service: ${resolved.problem?.message ?? `Service ${namespace}/${name} has no ports`}`,
      });
    }
    defaultBackend = { upstream: resolved.upstream.id, ingress: null };
  }

  const hosts: VirtualHostSpec[] = [...virtualHosts.values()]
    .sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0))
    .map((draft) => ({ host: draft.host, routes: draft.routes.sort(routeOrder), fallback: draft.fallback }));

  return {
    table: {
      virtualHosts: hosts,
      defaultBackend,
      upstreams: [...upstreams.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
      tls: tls.spec,
      https: settings.https,
      ...(settings.underscoresInHeaders ? { underscoresInHeaders: true } : {}),
    },
    statuses: served.map((ingress) => ({
      ingress: { namespace: ingress.metadata.namespace ?? '', name: ingress.metadata.name },
      loadBalancer: options.statusAddresses,
    })),
    ignored,
    warnings,
    certificatesChangeAt: tls.certificatesChangeAt,
    tlsFallbacks: tls.fallbacks,
  };
}

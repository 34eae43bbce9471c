// `pier routes --manifests DIR`: the route table and every warning, for people or (--output json) machines.
import { resolve } from 'node:path';
import type { Config } from './config.ts';
import { computeRoutes } from './routes/compute.ts';
import type { RouteComputation } from './routes/types.ts';
import type { LocationPolicy, MatchKind } from '../proxy/route-spec.ts';
import { ManifestSource, type ManifestProblem } from './sources/manifests.ts';
import { Store } from './store.ts';
import { describeWarning, routeOptionsFrom } from './runtime.ts';

interface RouteRow {
  host: string;
  path: string;
  pathType: string;
  backend: string;
  endpoints: string;
  ingress: string;
  /** What the location does besides forwarding (regex match, rewrite, redirects...), or `-`. */
  policy: string;
}

/** A size in nginx's units, as a user would write it. */
function sizeText(bytes: number): string {
  if (bytes === 0) return 'unlimited';
  for (const [unit, scale] of [['g', 1024 ** 3], ['m', 1024 ** 2], ['k', 1024]] as const) if (bytes % scale === 0) return `${bytes / scale}${unit}`;
  return String(bytes);
}

/** One line for a location's policy, in the annotations' own words. */
export function describePolicy(policy: LocationPolicy, match: MatchKind | null): string {
  const parts: string[] = [];
  if (match === 'regex') parts.push('regex');
  if (policy.appRoot !== undefined) parts.push(`app-root ${policy.appRoot}`);
  if (policy.redirect) parts.push(`redirect ${policy.redirect.code} ${policy.redirect.url}`);
  if (policy.rewrite) parts.push(`rewrite ${policy.rewrite.target}${policy.rewrite.forwardedPrefix !== undefined ? ` (x-forwarded-prefix ${policy.rewrite.forwardedPrefix})` : ''}`);
  if (policy.upstreamVhost !== undefined) parts.push(`upstream-vhost ${policy.upstreamVhost}`);
  if (policy.bodySizeLimit !== undefined) parts.push(`body ${sizeText(policy.bodySizeLimit)}`);
  if (policy.timeouts) parts.push(`timeouts ${Object.entries(policy.timeouts).map(([name, ms]) => `${name.replace('Ms', '')} ${ms / 1000}s`).join(', ')}`);
  if (policy.nextUpstream) parts.push(`next-upstream ${policy.nextUpstream.conditions.join(' ') || 'off'} (tries ${policy.nextUpstream.tries}${policy.nextUpstream.timeoutMs ? `, ${policy.nextUpstream.timeoutMs / 1000}s` : ''})`);
  if (policy.customErrors) parts.push(`custom-http-errors ${policy.customErrors.codes.join(',')} -> ${policy.customErrors.upstream ?? 'built-in 404'}`);
  if (policy.rateLimit) {
    const { rps, rpsBurst, rpm, rpmBurst } = policy.rateLimit;
    parts.push(`limit ${[...(rps ? [`${rps}r/s burst ${rpsBurst}`] : []), ...(rpm ? [`${rpm}r/m burst ${rpmBurst}`] : [])].join(' and ')}`);
  }
  if (policy.connectionLimit) parts.push(`limit ${policy.connectionLimit.connections} in progress per client`);
  if (policy.cors) parts.push(`cors ${policy.cors.origins.join(',')}`);
  if (policy.sourceRanges?.deny) parts.push(`deny ${policy.sourceRanges.deny.join(',')}`);
  if (policy.sourceRanges?.allow) parts.push(`allow only ${policy.sourceRanges.allow.join(',')}`);
  if (policy.externalAuth) {
    const { url, signin, cache, proxySetHeaders } = policy.externalAuth;
    const details = [...(signin ? [`signin ${signin}`] : []), ...(cache ? [`cache by ${cache.key}`] : []), ...(proxySetHeaders ? [`sets ${proxySetHeaders.filter((_, i) => i % 2 === 0).join(',')}`] : [])];
    parts.push(`auth-url ${url}${details.length > 0 ? ` (${details.join(', ')})` : ''}`);
  }
  if (policy.basicAuth) parts.push(`basic auth (${policy.basicAuth.credentials.users.length} users)`);
  if (policy.affinity) parts.push(`affinity cookie ${policy.affinity.cookieName} (${policy.affinity.mode})`);
  if (policy.hashBy) parts.push(`hash ${policy.hashBy.key}${policy.hashBy.subsetSize !== undefined ? ` (subsets of ${policy.hashBy.subsetSize})` : ''}`);
  if (policy.loadBalance) parts.push(policy.loadBalance);
  if (policy.canary) {
    const { upstream, header, headerValue, headerPattern, cookie, weight, weightTotal } = policy.canary;
    const rules = [...(header ? [`header ${header}${headerValue ? `=${headerValue}` : headerPattern ? ` ~ ${headerPattern}` : ''}`] : []), ...(cookie ? [`cookie ${cookie}`] : []), `weight ${weight}/${weightTotal}`];
    parts.push(`canary ${upstream} (${rules.join(', ')})`);
  }
  if (policy.closed !== undefined) parts.push(`CLOSED (503): ${policy.closed}`);
  if (policy.httpsRedirect) parts.push(policy.preserveTrailingSlash ? 'https-redirect (trailing /)' : 'https-redirect');
  return parts.length === 0 ? '-' : parts.join('; ');
}

export function routeRows(result: RouteComputation): RouteRow[] {
  const upstreams = new Map(result.table.upstreams.map((upstream) => [upstream.id, upstream]));
  const endpointsOf = (id: string): string => {
    const endpoints = upstreams.get(id)?.endpoints ?? [];
    return endpoints.length === 0 ? '(none: 503)' : endpoints.map((endpoint) => `${endpoint.address}:${endpoint.port}`).join(',');
  };
  /** The upstream, and the protocol a route speaks to it when that isn't plain HTTP. */
  const backendOf = (id: string, protocol: string | undefined): string => (protocol ? `${id} (${protocol})` : id);
  const rows: RouteRow[] = [];
  for (const virtualHost of result.table.virtualHosts) {
    const host = virtualHost.host === '' ? '*' : virtualHost.host;
    for (const route of virtualHost.routes) {
      rows.push({ host, path: route.path, pathType: route.pathType, backend: backendOf(route.upstream, route.protocol), endpoints: endpointsOf(route.upstream), ingress: `${route.ingress.namespace}/${route.ingress.name}`, policy: describePolicy(route, route.match) });
    }
    if (virtualHost.fallback) {
      const ingress = virtualHost.fallback.ingress;
      rows.push({ host, path: '(default)', pathType: '-', backend: backendOf(virtualHost.fallback.upstream, virtualHost.fallback.protocol), endpoints: endpointsOf(virtualHost.fallback.upstream), ingress: ingress ? `${ingress.namespace}/${ingress.name}` : '-', policy: describePolicy(virtualHost.fallback, null) });
    }
  }
  for (const virtualHost of result.table.virtualHosts) {
    for (const alias of virtualHost.aliases ?? []) rows.push({ host: alias, path: '(any)', pathType: '-', backend: '-', endpoints: '-', ingress: '-', policy: `server-alias of ${virtualHost.host}` });
  }
  for (const redirect of result.table.hostRedirects ?? []) {
    rows.push({ host: redirect.from, path: '(any)', pathType: '-', backend: '-', endpoints: '-', ingress: '-', policy: `from-to-www-redirect to ${redirect.to}` });
  }
  const fallback = result.table.defaultBackend;
  if (fallback) {
    const ingress = fallback.ingress;
    rows.push({ host: '(unmatched)', path: '(default)', pathType: '-', backend: fallback.upstream, endpoints: endpointsOf(fallback.upstream), ingress: ingress ? `${ingress.namespace}/${ingress.name}` : '--default-backend-service', policy: describePolicy(fallback, null) });
  }
  return rows;
}

function formatTable(rows: RouteRow[]): string {
  const header: RouteRow = { host: 'HOST', path: 'PATH', pathType: 'TYPE', backend: 'BACKEND', endpoints: 'ENDPOINTS', ingress: 'INGRESS', policy: 'POLICY' };
  const columns = Object.keys(header) as (keyof RouteRow)[];
  const widths = columns.map((column) => Math.max(...[header, ...rows].map((row) => row[column].length)));
  return [header, ...rows]
    .map((row) => columns.map((column, i) => row[column].padEnd(widths[i] as number)).join('  ').trimEnd())
    .join('\n');
}

export async function printRoutes(config: Config, out: (text: string) => void): Promise<number> {
  const source = new ManifestSource(resolve(config.flags.manifests as string));
  const manifests = await source.loadAll();
  const result = computeRoutes(Store.fromObjects(manifests.objects).snapshot(), { ...routeOptionsFrom(config.flags), now: Date.now() });
  const warnings = [
    ...manifests.problems.map((problem: ManifestProblem) => problem.message),
    ...result.warnings.map(describeWarning),
  ];
  if (config.flags.output === 'json') {
    out(JSON.stringify({ routes: routeRows(result), table: result.table, warnings: [...manifests.problems.map((problem) => ({ kind: 'File', ...problem })), ...result.warnings] }, null, 2) + '\n');
  } else {
    out(formatTable(routeRows(result)) + '\n');
    if (warnings.length > 0) out(`\nWarnings:\n${warnings.map((warning) => `  ${warning}`).join('\n')}\n`);
  }
  return manifests.failedFiles > 0 ? 1 : 0;
}

// The TCP and UDP services ConfigMaps (--tcp-services-configmap, --udp-services-configmap), read as
// ingress-nginx's getStreamServices does: each key a listen port, each value
// `<namespace>/<service>:<service port>[:PROXY][:PROXY]` (the port by number or name; the first
// PROXY decodes the PROXY protocol from clients, the second sends it to the backend; TCP only).
// An entry that doesn't parse, names a port Pier listens on itself, or a missing Service is a
// warning on the ConfigMap, and the rest are still served. Pure.
import type { ConfigMap } from '../model.ts';
import type { Snapshot } from '../store.ts';
import type { ObjectRef, StreamSpec, UpstreamSpec } from '../../proxy/route-spec.ts';
import { resolveServiceBackend } from './backends.ts';

export interface StreamInput {
  readonly protocol: 'TCP' | 'UDP';
  readonly configMap: ObjectRef;
  /** Ports Pier listens on itself (HTTP, HTTPS, healthz, default server): never a stream's. */
  readonly reservedPorts: ReadonlySet<number>;
}

export interface StreamResult {
  readonly streams: StreamSpec[];
  readonly upstreams: UpstreamSpec[];
  /** Problems with the ConfigMap's entries, each naming the entry. */
  readonly problems: string[];
}

const MAX_PORT = 65_535;
const NAMESPACED_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?\/[a-z0-9]([-.a-z0-9]*[a-z0-9])?$/;

export function streamServices(snapshot: Snapshot, input: StreamInput): StreamResult {
  const result: StreamResult = { streams: [], upstreams: [], problems: [] };
  const { protocol, configMap: ref } = input;
  const configMap: ConfigMap | undefined = snapshot.configMaps.get(`${ref.namespace}/${ref.name}`);
  if (!configMap) {
    result.problems.push(`${protocol} services ConfigMap ${ref.namespace}/${ref.name} not found; no ${protocol} port is open`);
    return result;
  }
  const entries = Object.entries(configMap.data ?? {}).sort(([a], [b]) => Number(a) - Number(b));
  for (const [key, value] of entries) {
    const problem = (why: string): void => {
      result.problems.push(`${protocol} port "${key}": ${why}; this port is not served`);
    };
    const port = /^\d{1,5}$/.test(key) ? Number(key) : NaN;
    if (!(port >= 1 && port <= MAX_PORT)) {
      problem('not a port number');
      continue;
    }
    if (input.reservedPorts.has(port)) {
      problem('Pier listens on it itself');
      continue;
    }
    const [service = '', servicePort = '', ...flags] = value.trim().split(':');
    if (!NAMESPACED_NAME.test(service) || servicePort === '' || flags.length > 2 || !flags.every((flag) => flag.toUpperCase() === 'PROXY')) {
      problem(`"${value}" is not <namespace>/<service>:<port>[:PROXY][:PROXY]`);
      continue;
    }
    if (protocol === 'UDP' && flags.length > 0) {
      problem('the PROXY protocol is for TCP only (as in ingress-nginx)');
      continue;
    }
    const [namespace, name] = service.split('/') as [string, string];
    const portRef = /^\d+$/.test(servicePort) ? { number: Number(servicePort) } : { name: servicePort };
    const resolved = resolveServiceBackend(snapshot, namespace, name, portRef, false, protocol);
    if (resolved.problem && resolved.problem.reason !== 'NoReadyEndpoints') {
      problem(resolved.problem.message.replace(/; requests answer 503$/, ''));
      continue;
    }
    // Without endpoints the port stays open and its connections are closed at once, until some are ready.
    if (resolved.problem) result.problems.push(`${protocol} port ${port}: ${resolved.problem.message.replace(/requests answer 503$/, 'its connections are closed until one is ready')}`);
    result.upstreams.push(resolved.upstream);
    result.streams.push({ protocol, port, upstream: resolved.upstream.id, acceptProxyProtocol: flags.length >= 1, sendProxyProtocol: flags.length === 2 });
  }
  return result;
}

// The TCP and UDP services ConfigMaps as ingress-nginx reads them (getStreamServices; its docs'
// "Exposing TCP and UDP services"): entries in, streams and warnings out. A bad entry costs only
// itself.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../operator/model.ts';
import { endpointSlice, service } from '../helpers/objects.ts';
import { compute } from './route-helpers.ts';

const TCP = { namespace: 'ingress', name: 'tcp-services' };
const UDP = { namespace: 'ingress', name: 'udp-services' };
const configMap = (ref: { namespace: string; name: string }, data: Record<string, string>): KubeObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { ...ref }, data }) as KubeObject;
const backends: KubeObject[] = [
  service('example-go', [{ name: 'http', port: 8080 }]),
  endpointSlice('example-go-1', 'example-go', ['10.0.0.5'], [{ name: 'http', port: 8080 }]),
  service('kube-dns', [{ name: 'dns', port: 53, protocol: 'UDP' }, { name: 'dns-tcp', port: 53, protocol: 'TCP' }] as never, 'kube-system'),
  { ...endpointSlice('kube-dns-1', 'kube-dns', ['10.0.0.10'], [{ name: 'dns', port: 53 }, { name: 'dns-tcp', port: 53 }], 'kube-system'), ports: [{ name: 'dns', port: 53, protocol: 'UDP' }, { name: 'dns-tcp', port: 53, protocol: 'TCP' }] } as KubeObject,
  service('idle', [{ name: 'db', port: 5432 }]),
];

interface Case {
  readonly rule: string;
  readonly tcp?: Record<string, string>;
  readonly udp?: Record<string, string>;
  /** `<protocol> <port> -> <upstream> [accept-proxy] [send-proxy]` */
  readonly streams: readonly string[];
  readonly warnings?: readonly string[];
}

const CASES: Case[] = [
  { rule: 'A TCP port goes to the Service port of its entry (ingress-nginx\'s docs: "9000": "default/example-go:8080")', tcp: { '9000': 'default/example-go:8080' }, streams: ['TCP 9000 -> default/example-go:8080'] },
  {
    rule: 'The first PROXY reads the PROXY protocol from clients, the second sends it to the backend',
    tcp: { '9000': 'default/example-go:8080:PROXY', '9001': 'default/example-go:http:PROXY:PROXY' },
    streams: ['TCP 9000 -> default/example-go:8080 accept-proxy', 'TCP 9001 -> default/example-go:http accept-proxy send-proxy'],
  },
  {
    rule: 'A UDP port takes the Service\'s UDP port of that number, not the TCP one beside it',
    udp: { '53': 'kube-system/kube-dns:53' },
    tcp: { '53': 'kube-system/kube-dns:53' },
    streams: ['TCP 53 -> kube-system/kube-dns:53', 'UDP 53 -> kube-system/kube-dns:53/udp'],
  },
  {
    rule: 'Each bad entry is a warning naming its port, and the others are still served',
    tcp: { '9000': 'default/example-go:8080', http: 'default/example-go:8080', '70000': 'default/example-go:8080', '9002': 'example-go:8080', '9003': 'default/missing:80', '9004': 'default/example-go:8080:TLS' },
    streams: ['TCP 9000 -> default/example-go:8080'],
    warnings: [
      'TCP port "9002": "example-go:8080" is not <namespace>/<service>:<port>[:PROXY][:PROXY]; this port is not served',
      'TCP port "9003": Service default/missing not found; this port is not served',
      'TCP port "9004": "default/example-go:8080:TLS" is not <namespace>/<service>:<port>[:PROXY][:PROXY]; this port is not served',
      'TCP port "70000": not a port number; this port is not served',
      'TCP port "http": not a port number; this port is not served',
    ],
  },
  { rule: 'A port Pier listens on itself is refused', tcp: { '80': 'default/example-go:8080' }, streams: [], warnings: ['TCP port "80": Pier listens on it itself; this port is not served'] },
  { rule: 'PROXY on a UDP entry is refused, as ingress-nginx supports it for TCP only', udp: { '5353': 'kube-system/kube-dns:53:PROXY' }, streams: [], warnings: ['UDP port "5353": the PROXY protocol is for TCP only (as in ingress-nginx); this port is not served'] },
  {
    rule: 'A Service without ready endpoints keeps its port, with a warning: connections are closed until one is ready',
    tcp: { '5432': 'default/idle:5432' },
    streams: ['TCP 5432 -> default/idle:5432'],
    warnings: ['TCP port 5432: Service default/idle port 5432 has no ready endpoints; its connections are closed until one is ready'],
  },
];

describe('the TCP and UDP services ConfigMaps', () => {
  for (const testCase of CASES) {
    it(testCase.rule, () => {
      const objects = [...backends, ...(testCase.tcp ? [configMap(TCP, testCase.tcp)] : []), ...(testCase.udp ? [configMap(UDP, testCase.udp)] : [])];
      const result = compute(objects, { tcpServicesConfigMap: testCase.tcp ? TCP : null, udpServicesConfigMap: testCase.udp ? UDP : null, reservedPorts: [80, 443, 10254, 8181] });
      const streams = (result.table.streams ?? []).map((stream) => `${stream.protocol} ${stream.port} -> ${stream.upstream}${stream.acceptProxyProtocol ? ' accept-proxy' : ''}${stream.sendProxyProtocol ? ' send-proxy' : ''}`);
      assert.deepEqual(streams, testCase.streams);
      assert.deepEqual(result.warnings.map((warning) => warning.message).sort(), [...(testCase.warnings ?? [])].sort());
      for (const warning of result.warnings) assert.equal(warning.kind, 'ConfigMap');
    });
  }

  it('says so when a ConfigMap the flags name doesn\'t exist', () => {
    const result = compute(backends, { tcpServicesConfigMap: TCP });
    assert.deepEqual(result.warnings.map((warning) => warning.message), ['TCP services ConfigMap ingress/tcp-services not found; no TCP port is open']);
  });
});

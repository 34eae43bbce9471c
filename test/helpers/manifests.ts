// Manifest files for `pier serve --manifests` in tests and benchmarks, in the form a user writes:
// Pier's IngressClass, and a host routed to one Service whose EndpointSlice points at 127.0.0.1.

export const INGRESS_CLASS_YAML = `apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: pier}
spec: {controller: pier.dev/ingress-controller}
`;

/**
 * An Ingress, a Service and an EndpointSlice, all named after `name`: every path of `host` goes to
 * 127.0.0.1:backendPort. With `tlsSecret`, the host is also listed under spec.tls with that Secret.
 */
export function backendManifest(name: string, host: string, backendPort: number, tlsSecret?: string): string {
  return `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: ${name}}
spec:
  ingressClassName: pier
${tlsSecret ? `  tls: [{hosts: [${host}], secretName: ${tlsSecret}}]\n` : ''}  rules:
    - host: ${host}
      http:
        paths:
          - {path: /, pathType: Prefix, backend: {service: {name: ${name}, port: {number: 80}}}}
---
apiVersion: v1
kind: Service
metadata: {name: ${name}}
spec: {ports: [{name: http, port: 80}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: ${name}-1, labels: {kubernetes.io/service-name: ${name}}}
addressType: IPv4
ports: [{name: http, port: ${backendPort}}]
endpoints: [{addresses: [127.0.0.1]}]
`;
}

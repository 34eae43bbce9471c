// The addresses Pier publishes in Ingress status, as ingress-nginx chooses them:
// --publish-status-address, else the --publish-service Service's LoadBalancer ingress, else its
// externalIPs, else the addresses of the nodes that run the controller (what NodePort users need).
import { isIP } from 'node:net';
import type { LoadBalancerIngress, Service } from './model.ts';

export function parseStatusAddresses(list: string): LoadBalancerIngress[] {
  return list
    .split(',')
    .map((address) => address.trim())
    .filter((address) => address !== '')
    .map((address) => (isIP(address) ? { ip: address } : { hostname: address }));
}

export type ServiceAddresses = { readonly kind: 'addresses'; readonly addresses: LoadBalancerIngress[] } | { readonly kind: 'node-addresses' };

/** What a published Service gives by itself, or that node addresses are needed. */
export function addressesOfService(service: Service): ServiceAddresses {
  const loadBalancer: LoadBalancerIngress[] = [];
  for (const entry of service.status?.loadBalancer?.ingress ?? []) {
    if (entry.ip) loadBalancer.push({ ip: entry.ip });
    else if (entry.hostname) loadBalancer.push({ hostname: entry.hostname });
  }
  if (loadBalancer.length > 0) return { kind: 'addresses', addresses: loadBalancer };
  const external = service.spec.externalIPs ?? [];
  if (external.length > 0) return { kind: 'addresses', addresses: external.map((ip) => ({ ip })) };
  return { kind: 'node-addresses' };
}

export interface NodeAddress {
  readonly type: string;
  readonly address: string;
}

/** A node's published address: its ExternalIP, else its InternalIP, as ingress-nginx does. */
export function publishedNodeAddress(addresses: readonly NodeAddress[]): string | undefined {
  return addresses.find((entry) => entry.type === 'ExternalIP')?.address ?? addresses.find((entry) => entry.type === 'InternalIP')?.address;
}

/** Sorted, so that two lists with the same addresses compare equal. */
export function normalizeAddresses(addresses: readonly LoadBalancerIngress[]): LoadBalancerIngress[] {
  return addresses
    .map((entry) => (entry.ip ? { ip: entry.ip } : { hostname: entry.hostname ?? '' }))
    .sort((a, b) => ((a.ip ?? a.hostname ?? '') < (b.ip ?? b.hostname ?? '') ? -1 : 1));
}

export function sameAddresses(a: readonly LoadBalancerIngress[], b: readonly LoadBalancerIngress[]): boolean {
  return JSON.stringify(normalizeAddresses(a)) === JSON.stringify(normalizeAddresses(b));
}

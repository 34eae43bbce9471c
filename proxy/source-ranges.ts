// Client addresses against CIDR lists (allowlist-source-range, denylist-source-range,
// proxy-real-ip-cidr), on node's net.BlockList, and the client address nginx's realip module
// derives from X-Forwarded-For when the peer is trusted.
import { BlockList, isIP } from 'node:net';
import { clientAddressOf } from './headers.ts';

export interface Cidr {
  readonly address: string;
  readonly prefix: number;
  readonly family: 'ipv4' | 'ipv6';
}

/** `10.0.0.0/8`, `2001:db8::/32`, or a single address (a /32 or /128), as nginx's allow and deny take them. */
export function parseCidr(text: string): Cidr | null {
  const slash = text.indexOf('/');
  const address = slash === -1 ? text : text.slice(0, slash);
  const version = isIP(address);
  if (version === 0) return null;
  const max = version === 4 ? 32 : 128;
  const prefixText = slash === -1 ? String(max) : text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > max) return null;
  return { address, prefix: Number(prefixText), family: version === 4 ? 'ipv4' : 'ipv6' };
}

/** A comma-separated list, as ingress-nginx's annotations and ConfigMap write them; the first bad entry is the error. */
export function parseCidrList(text: string): { readonly ok: true; readonly cidrs: readonly string[] } | { readonly ok: false; readonly error: string } {
  const cidrs: string[] = [];
  for (const entry of text.split(',').map((part) => part.trim()).filter((part) => part !== '')) {
    if (!parseCidr(entry)) return { ok: false, error: `"${entry}" is not an IPv4 or IPv6 address or CIDR` };
    cidrs.push(entry);
  }
  return { ok: true, cidrs };
}

/** The CIDRs (already checked by parseCidrList) as a BlockList. */
export function blockListOf(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const text of cidrs) {
    const cidr = parseCidr(text);
    if (cidr) list.addSubnet(cidr.address, cidr.prefix, cidr.family);
  }
  return list;
}

/** True when the address (IPv4, IPv6, or IPv4-mapped IPv6 already unwrapped) is in the list. */
export function listed(list: BlockList, address: string): boolean {
  const version = isIP(address);
  return version !== 0 && list.check(address, version === 4 ? 'ipv4' : 'ipv6');
}

/**
 * nginx's realip with `real_ip_recursive on`: when the peer is trusted, the rightmost address of
 * X-Forwarded-For that isn't trusted (the leftmost when all are); an entry that isn't an address
 * makes nginx keep the peer. An untrusted peer is the client, whatever it sent.
 */
export function realClientAddress(peer: string, forwardedFor: string | undefined, trusted: BlockList): string {
  if (forwardedFor === undefined || !listed(trusted, peer)) return peer;
  const hops = forwardedFor.split(',').map((hop) => hop.trim());
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = clientAddressOf(hops[i]);
    if (isIP(hop) === 0) return peer;
    if (!listed(trusted, hop) || i === 0) return hop;
  }
  return peer;
}

// The PROXY protocol (HAProxy's proxy-protocol.txt) on stream ports: the header a client's load
// balancer puts first (v1 text or v2 binary), read and taken off before anything is forwarded, and
// the v1 header Pier sends a backend first, as nginx's `proxy_protocol on` does. The encoding and
// decoding are proxy-protocol-js's; this module only finds where a header ends, within bounds.
import { isIPv4 } from 'node:net';
import { INETProtocol, Peer, V1ProxyProtocol, V2ProxyProtocol, IPv4ProxyAddress, IPv6ProxyAddress } from 'proxy-protocol-js';

/** A v1 header is at most 107 bytes, CRLF included (proxy-protocol.txt, 2.1). */
const V1_MAX_BYTES = 107;
const V1_PREFIX = Buffer.from('PROXY ');
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V2_FIXED_BYTES = 16;
/** More than any address block with the TLVs load balancers send; a longer header is refused. */
const V2_MAX_BYTES = 1024;

/** Who the client is, as the header says; null for a v2 LOCAL header (a health check: the peer is the client). */
export interface ProxiedAddress {
  readonly address: string;
  readonly port: number;
}

export type HeaderReading =
  | { readonly state: 'incomplete' }
  | { readonly state: 'invalid'; readonly reason: string }
  | { readonly state: 'complete'; readonly client: ProxiedAddress | null; readonly headerBytes: number };

function ipv6Text(bytes: readonly number[]): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)).toString(16));
  return groups.join(':');
}

/** Reads a PROXY header at the start of `received` (what arrived so far). */
export function readProxyHeader(received: Buffer): HeaderReading {
  const prefixLength = Math.min(received.length, V2_SIGNATURE.length);
  if (received.subarray(0, prefixLength).equals(V2_SIGNATURE.subarray(0, prefixLength))) {
    if (received.length < V2_FIXED_BYTES) return { state: 'incomplete' };
    const total = V2_FIXED_BYTES + received.readUInt16BE(14);
    if (total > V2_MAX_BYTES) return { state: 'invalid', reason: `a v2 header of ${total} bytes is longer than ${V2_MAX_BYTES}` };
    if (received.length < total) return { state: 'incomplete' };
    try {
      const header = V2ProxyProtocol.parse(new Uint8Array(received.subarray(0, total)));
      const proxied = header.proxyAddress;
      // LOCAL (a load balancer's own health check) carries no client.
      if (header.command === 0 || !(proxied instanceof IPv4ProxyAddress || proxied instanceof IPv6ProxyAddress)) return { state: 'complete', client: null, headerBytes: total };
      const address = proxied instanceof IPv4ProxyAddress ? proxied.sourceAddress.address.join('.') : ipv6Text(proxied.sourceAddress.address);
      return { state: 'complete', client: { address, port: proxied.sourcePort }, headerBytes: total };
    } catch (error) {
      return { state: 'invalid', reason: (error as Error).message };
    }
  }
  const v1Length = Math.min(received.length, V1_PREFIX.length);
  if (!received.subarray(0, v1Length).equals(V1_PREFIX.subarray(0, v1Length))) return { state: 'invalid', reason: 'no PROXY protocol header' };
  const end = received.indexOf('\r\n');
  if (end === -1) return received.length >= V1_MAX_BYTES ? { state: 'invalid', reason: `no end within ${V1_MAX_BYTES} bytes` } : { state: 'incomplete' };
  if (end + 2 > V1_MAX_BYTES) return { state: 'invalid', reason: `a v1 header is at most ${V1_MAX_BYTES} bytes` };
  const text = received.subarray(0, end + 2).toString('latin1');
  if (text.startsWith('PROXY UNKNOWN')) return { state: 'complete', client: null, headerBytes: end + 2 };
  try {
    const header = V1ProxyProtocol.parse(text);
    return { state: 'complete', client: { address: header.source.ipAddress, port: header.source.port }, headerBytes: end + 2 };
  } catch (error) {
    return { state: 'invalid', reason: (error as Error).message };
  }
}

/** The v1 header for a connection from `client` to `local` (nginx's proxy_protocol sends v1). */
export function proxyHeaderV1(client: ProxiedAddress, local: ProxiedAddress): Buffer {
  const source = client.address.replace(/^::ffff:(?=\d+\.)/, '');
  const destination = local.address.replace(/^::ffff:(?=\d+\.)/, '');
  // Both addresses must be of one family; an IPv4 client behind an IPv6 listener is written as IPv6.
  const family = isIPv4(source) && isIPv4(destination) ? INETProtocol.TCP4 : INETProtocol.TCP6;
  const asFamily = (address: string): string => (family === INETProtocol.TCP6 && isIPv4(address) ? `::ffff:${address}` : address);
  return Buffer.from(new V1ProxyProtocol(family, new Peer(asFamily(source), client.port), new Peer(asFamily(destination), local.port)).build(), 'latin1');
}

// The server name (SNI) a TLS client asks for, read from its ClientHello before any TLS library
// sees the connection. Pure: bytes in, an answer out. The HTTPS listener uses it to hand a
// connection to the TLS server that can serve it (see server.ts for why there are two), and SSL
// passthrough will route on it.
//
// RFC 8446 §4.1.2 and §5.1, RFC 6066 §3: TLSPlaintext records (type 22, handshake) carry the
// ClientHello, which may span several records; its extensions list server_name (type 0), a list
// whose host_name entry (type 0) is the name.

const RECORD_HEADER_BYTES = 5;
const HANDSHAKE_HEADER_BYTES = 4;
const CONTENT_TYPE_HANDSHAKE = 22;
const HANDSHAKE_TYPE_CLIENT_HELLO = 1;
const EXTENSION_SERVER_NAME = 0;
const SERVER_NAME_TYPE_HOST_NAME = 0;
/** legacy_version (2) and random (32) open the ClientHello. */
const CLIENT_HELLO_FIXED_BYTES = 34;
/**
 * The most ClientHello bytes read before giving up on finding a name. Real ones are under 2 KiB
 * (a post-quantum key share included); RFC 8446 caps a record at 16 KiB.
 */
export const MAX_CLIENT_HELLO_BYTES = 64 * 1024;

export type ClientHelloReading =
  /** More bytes are needed to tell. */
  | { readonly complete: false }
  /** `serverName` is null when the client sent none, or when the bytes are not a ClientHello (the TLS library will refuse them). */
  | { readonly complete: true; readonly serverName: string | null };

const NEED_MORE: ClientHelloReading = { complete: false };
const NO_NAME: ClientHelloReading = { complete: true, serverName: null };

/** Reads the SNI from the first bytes a client sent (everything received so far). */
export function readServerName(received: Buffer): ClientHelloReading {
  const handshake = handshakeBytes(received);
  if (handshake === null) return NO_NAME;
  if (handshake.length < HANDSHAKE_HEADER_BYTES) return handshake.complete ? NO_NAME : NEED_MORE;
  if (handshake.bytes[0] !== HANDSHAKE_TYPE_CLIENT_HELLO) return NO_NAME;
  const length = handshake.bytes.readUIntBE(1, 3);
  if (length > MAX_CLIENT_HELLO_BYTES) return NO_NAME;
  if (handshake.length < HANDSHAKE_HEADER_BYTES + length) return handshake.complete ? NO_NAME : NEED_MORE;
  const name = serverNameIn(handshake.bytes.subarray(HANDSHAKE_HEADER_BYTES, HANDSHAKE_HEADER_BYTES + length));
  return { complete: true, serverName: name };
}

/**
 * The handshake-protocol bytes of the leading handshake records, joined; `complete` when no more
 * can come (a record of another type follows, or the limit is reached). Null when the first
 * record is not a handshake record.
 */
function handshakeBytes(received: Buffer): { bytes: Buffer; length: number; complete: boolean } | null {
  if (received.length > 0 && received[0] !== CONTENT_TYPE_HANDSHAKE) return null;
  const fragments: Buffer[] = [];
  let length = 0;
  let offset = 0;
  while (offset + RECORD_HEADER_BYTES <= received.length) {
    if (received[offset] !== CONTENT_TYPE_HANDSHAKE) return { bytes: Buffer.concat(fragments), length, complete: true };
    const recordLength = received.readUInt16BE(offset + 3);
    const end = offset + RECORD_HEADER_BYTES + recordLength;
    if (end > received.length) break;
    fragments.push(received.subarray(offset + RECORD_HEADER_BYTES, end));
    length += recordLength;
    offset = end;
  }
  return { bytes: Buffer.concat(fragments), length, complete: received.length >= MAX_CLIENT_HELLO_BYTES };
}

/** The host_name in a ClientHello body's server_name extension; null when absent or malformed. */
function serverNameIn(hello: Buffer): string | null {
  const reader = new Reader(hello);
  reader.skip(CLIENT_HELLO_FIXED_BYTES);
  reader.skip(reader.u8()); // legacy_session_id
  reader.skip(reader.u16()); // cipher_suites
  reader.skip(reader.u8()); // legacy_compression_methods
  if (reader.failed || reader.remaining === 0) return null;
  const extensions = reader.sub(reader.u16());
  while (!extensions.failed && extensions.remaining > 0) {
    const type = extensions.u16();
    const body = extensions.sub(extensions.u16());
    if (extensions.failed) return null;
    if (type !== EXTENSION_SERVER_NAME) continue;
    const names = body.sub(body.u16());
    while (!names.failed && names.remaining > 0) {
      const nameType = names.u8();
      const name = names.bytes(names.u16());
      if (names.failed || name === null) return null;
      if (nameType === SERVER_NAME_TYPE_HOST_NAME) return name.toString('latin1');
    }
    return null;
  }
  return null;
}

/** Reads big-endian fields; a read past the end sets `failed` instead of throwing. */
class Reader {
  readonly #buffer: Buffer;
  #offset = 0;
  failed = false;

  constructor(buffer: Buffer) {
    this.#buffer = buffer;
  }

  get remaining(): number {
    return this.failed ? 0 : this.#buffer.length - this.#offset;
  }

  #take(count: number): Buffer | null {
    if (this.failed || this.#offset + count > this.#buffer.length) {
      this.failed = true;
      return null;
    }
    const slice = this.#buffer.subarray(this.#offset, this.#offset + count);
    this.#offset += count;
    return slice;
  }

  u8(): number {
    return this.#take(1)?.[0] ?? 0;
  }

  u16(): number {
    return this.#take(2)?.readUInt16BE(0) ?? 0;
  }

  skip(count: number): void {
    this.#take(count);
  }

  bytes(count: number): Buffer | null {
    return this.#take(count);
  }

  sub(count: number): Reader {
    const reader = new Reader(this.#take(count) ?? Buffer.alloc(0));
    reader.failed = this.failed;
    return reader;
  }
}

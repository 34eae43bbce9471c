// Upstream failures mapped to gateway statuses in one table, by the stable `code` that undici
// and node give each error.

export const STATUS_BAD_REQUEST = 400;
export const STATUS_NOT_FOUND = 404;
export const STATUS_PAYLOAD_TOO_LARGE = 413;
export const STATUS_BAD_GATEWAY = 502;
export const STATUS_UNAVAILABLE = 503;
export const STATUS_GATEWAY_TIMEOUT = 504;

interface Failure {
  readonly status: number;
  /** Nothing reached the upstream, so any request may be tried again on another endpoint. */
  readonly beforeRequestSent: boolean;
}

const FAILURES: Readonly<Record<string, Failure>> = {
  ECONNREFUSED: { status: STATUS_BAD_GATEWAY, beforeRequestSent: true },
  EHOSTUNREACH: { status: STATUS_BAD_GATEWAY, beforeRequestSent: true },
  ENETUNREACH: { status: STATUS_BAD_GATEWAY, beforeRequestSent: true },
  EADDRNOTAVAIL: { status: STATUS_BAD_GATEWAY, beforeRequestSent: true },
  ENOTFOUND: { status: STATUS_BAD_GATEWAY, beforeRequestSent: true },
  EAI_AGAIN: { status: STATUS_BAD_GATEWAY, beforeRequestSent: true },
  UND_ERR_CONNECT_TIMEOUT: { status: STATUS_GATEWAY_TIMEOUT, beforeRequestSent: true },
  ECONNRESET: { status: STATUS_BAD_GATEWAY, beforeRequestSent: false },
  EPIPE: { status: STATUS_BAD_GATEWAY, beforeRequestSent: false },
  UND_ERR_SOCKET: { status: STATUS_BAD_GATEWAY, beforeRequestSent: false },
  UND_ERR_CLOSED: { status: STATUS_BAD_GATEWAY, beforeRequestSent: false },
  UND_ERR_INFO: { status: STATUS_BAD_GATEWAY, beforeRequestSent: false },
  HPE_INVALID_CONSTANT: { status: STATUS_BAD_GATEWAY, beforeRequestSent: false },
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: { status: STATUS_BAD_GATEWAY, beforeRequestSent: false },
  UND_ERR_HEADERS_TIMEOUT: { status: STATUS_GATEWAY_TIMEOUT, beforeRequestSent: false },
  UND_ERR_BODY_TIMEOUT: { status: STATUS_GATEWAY_TIMEOUT, beforeRequestSent: false },
  PIER_SEND_TIMEOUT: { status: STATUS_GATEWAY_TIMEOUT, beforeRequestSent: false },
  ETIMEDOUT: { status: STATUS_GATEWAY_TIMEOUT, beforeRequestSent: false },
  PIER_BODY_TOO_LARGE: { status: STATUS_PAYLOAD_TOO_LARGE, beforeRequestSent: false },
};

const UNKNOWN_FAILURE: Failure = { status: STATUS_BAD_GATEWAY, beforeRequestSent: false };

export function classifyUpstreamError(error: unknown): Failure {
  const code = (error as { code?: unknown } | null)?.code;
  return (typeof code === 'string' && FAILURES[code]) || UNKNOWN_FAILURE;
}

/** Raised when the upstream accepts no request body for longer than the send timeout. */
export class SendTimeoutError extends Error {
  readonly code = 'PIER_SEND_TIMEOUT';
  constructor(timeoutMs: number) {
    super(`upstream accepted no request body for ${timeoutMs} ms`);
    this.name = 'SendTimeoutError';
  }
}

/** Raised when a request body without a declared length grows past proxy-body-size. */
export class BodyTooLargeError extends Error {
  readonly code = 'PIER_BODY_TOO_LARGE';
  constructor(limit: number) {
    super(`request body is larger than ${limit} bytes`);
    this.name = 'BodyTooLargeError';
  }
}

/** Why an upstream request was abandoned when the client went away first. */
export class ClientGoneError extends Error {
  readonly code = 'PIER_CLIENT_GONE';
  constructor() {
    super('client closed the connection');
    this.name = 'ClientGoneError';
  }
}

export const STATUS_TEXT: Readonly<Record<number, string>> = {
  301: '301 Moved Permanently',
  302: '302 Found',
  307: '307 Temporary Redirect',
  308: '308 Permanent Redirect',
  [STATUS_BAD_REQUEST]: '400 Bad Request',
  [STATUS_NOT_FOUND]: 'default backend - 404',
  [STATUS_PAYLOAD_TOO_LARGE]: '413 Request Entity Too Large',
  [STATUS_BAD_GATEWAY]: '502 Bad Gateway',
  [STATUS_UNAVAILABLE]: '503 Service Temporarily Unavailable',
  [STATUS_GATEWAY_TIMEOUT]: '504 Gateway Time-out',
};

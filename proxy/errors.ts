// Upstream failures mapped to gateway statuses in one table, by the stable `code` that undici
// and node give each error.

export const STATUS_BAD_REQUEST = 400;
export const STATUS_FORBIDDEN = 403;
export const STATUS_NOT_FOUND = 404;
export const STATUS_PAYLOAD_TOO_LARGE = 413;
export const STATUS_BAD_GATEWAY = 502;
export const STATUS_UNAVAILABLE = 503;
export const STATUS_GATEWAY_TIMEOUT = 504;

/** Which proxy-next-upstream condition a failure is, or null when no condition covers it. */
export type FailureCondition = 'error' | 'timeout' | 'invalid_header' | null;

interface Failure {
  readonly status: number;
  /** Nothing reached the upstream, so any request may be tried again on another endpoint. */
  readonly beforeRequestSent: boolean;
  readonly condition: FailureCondition;
}

const failure = (status: number, beforeRequestSent: boolean, condition: FailureCondition): Failure => ({ status, beforeRequestSent, condition });

const FAILURES: Readonly<Record<string, Failure>> = {
  ECONNREFUSED: failure(STATUS_BAD_GATEWAY, true, 'error'),
  EHOSTUNREACH: failure(STATUS_BAD_GATEWAY, true, 'error'),
  ENETUNREACH: failure(STATUS_BAD_GATEWAY, true, 'error'),
  EADDRNOTAVAIL: failure(STATUS_BAD_GATEWAY, true, 'error'),
  ENOTFOUND: failure(STATUS_BAD_GATEWAY, true, 'error'),
  EAI_AGAIN: failure(STATUS_BAD_GATEWAY, true, 'error'),
  UND_ERR_CONNECT_TIMEOUT: failure(STATUS_GATEWAY_TIMEOUT, true, 'timeout'),
  ECONNRESET: failure(STATUS_BAD_GATEWAY, false, 'error'),
  EPIPE: failure(STATUS_BAD_GATEWAY, false, 'error'),
  UND_ERR_SOCKET: failure(STATUS_BAD_GATEWAY, false, 'error'),
  UND_ERR_CLOSED: failure(STATUS_BAD_GATEWAY, false, 'error'),
  UND_ERR_INFO: failure(STATUS_BAD_GATEWAY, false, 'error'),
  HPE_INVALID_CONSTANT: failure(STATUS_BAD_GATEWAY, false, 'invalid_header'),
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: failure(STATUS_BAD_GATEWAY, false, 'error'),
  UND_ERR_HEADERS_TIMEOUT: failure(STATUS_GATEWAY_TIMEOUT, false, 'timeout'),
  UND_ERR_BODY_TIMEOUT: failure(STATUS_GATEWAY_TIMEOUT, false, 'timeout'),
  PIER_SEND_TIMEOUT: failure(STATUS_GATEWAY_TIMEOUT, false, 'timeout'),
  ETIMEDOUT: failure(STATUS_GATEWAY_TIMEOUT, false, 'timeout'),
  PIER_BODY_TOO_LARGE: failure(STATUS_PAYLOAD_TOO_LARGE, false, null),
};

const UNKNOWN_FAILURE: Failure = failure(STATUS_BAD_GATEWAY, false, 'error');

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

/** Why an attempt was abandoned at its response head: its status is one proxy-next-upstream retries (http_502...). */
export class RetryableStatusError extends Error {
  readonly code = 'PIER_RETRYABLE_STATUS';
  constructor(status: number) {
    super(`upstream answered ${status}; trying the next endpoint`);
    this.name = 'RetryableStatusError';
  }
}

/** Why an attempt was abandoned at its response head: custom-http-errors replaces answers with its status. */
export class InterceptedStatusError extends Error {
  readonly code = 'PIER_INTERCEPTED_STATUS';
  readonly status: number;
  constructor(status: number) {
    super(`upstream answered ${status}; the error backend answers instead`);
    this.name = 'InterceptedStatusError';
    this.status = status;
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
  [STATUS_FORBIDDEN]: '403 Forbidden',
  [STATUS_NOT_FOUND]: 'default backend - 404',
  [STATUS_PAYLOAD_TOO_LARGE]: '413 Request Entity Too Large',
  [STATUS_BAD_GATEWAY]: '502 Bad Gateway',
  [STATUS_UNAVAILABLE]: '503 Service Temporarily Unavailable',
  [STATUS_GATEWAY_TIMEOUT]: '504 Gateway Time-out',
};

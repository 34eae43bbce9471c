// What an API call's failure means. client-node's typed calls throw ApiException (`code`), its
// Watch fails with an Error carrying `statusCode`; both are read here, nowhere else.

export const HTTP_FORBIDDEN = 403;
export const HTTP_NOT_FOUND = 404;
export const HTTP_CONFLICT = 409;

export function httpStatusOf(error: unknown): number | undefined {
  const candidate = error as { code?: unknown; statusCode?: unknown } | null;
  if (typeof candidate?.code === 'number') return candidate.code;
  if (typeof candidate?.statusCode === 'number') return candidate.statusCode;
  return undefined;
}

/** The API server's own message (`... is forbidden: User ... cannot list ...`), when it sent one. */
export function apiMessageOf(error: unknown): string {
  const body = (error as { body?: unknown } | null)?.body;
  if (typeof body === 'string') {
    try {
      const parsed = JSON.parse(body) as { message?: unknown };
      if (typeof parsed.message === 'string') return parsed.message;
    } catch {
      return body.slice(0, 300);
    }
  }
  if (body && typeof body === 'object' && typeof (body as { message?: unknown }).message === 'string') {
    return (body as { message: string }).message;
  }
  const message = (error as Error | null)?.message ?? String(error);
  return message.split('\n')[0] ?? message;
}

export interface Permission {
  readonly verb: string;
  /** `ingresses.networking.k8s.io`, `services`, `ingresses/status`, ... */
  readonly resource: string;
  /** Undefined for the cluster scope. */
  readonly namespace: string | undefined;
}

export function describePermission(permission: Permission): string {
  const scope = permission.namespace ? `in namespace "${permission.namespace}"` : 'at cluster scope';
  return `${permission.verb} ${permission.resource} ${scope}`;
}

/** The line Pier logs, and /healthz shows, when RBAC denies it something. */
export function missingPermissionMessage(permission: Permission, error: unknown): string {
  return `missing RBAC permission: ${describePermission(permission)} (the API server said: ${apiMessageOf(error)})`;
}

/**
 * A 403 that RBAC gave: not the API server refusing new objects in a namespace being deleted,
 * which is a 403 too (cause NamespaceTerminating) but no missing permission.
 */
export function isForbidden(error: unknown): boolean {
  return httpStatusOf(error) === HTTP_FORBIDDEN && !isNamespaceTerminating(error);
}

/** The API server refused to create something in a namespace that is being deleted. */
export function isNamespaceTerminating(error: unknown): boolean {
  const body = (error as { body?: unknown } | null)?.body;
  let parsed: { details?: { causes?: { reason?: unknown }[] } } | undefined;
  try {
    parsed = typeof body === 'string' ? JSON.parse(body) : (body as typeof parsed);
  } catch {
    parsed = undefined;
  }
  if (parsed?.details?.causes?.some((cause) => cause.reason === 'NamespaceTerminating')) return true;
  return /because it is being terminated/.test(apiMessageOf(error));
}

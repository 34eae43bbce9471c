// The orders every list of a route computation is sorted in, so that computing all Ingresses
// together or partition by partition gives the same lists.
import type { ObjectRef, RouteWarning } from './types.ts';

/** Code-unit order. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** By namespace, then name. */
export function compareRefs(a: ObjectRef, b: ObjectRef): number {
  return compareText(a.namespace, b.namespace) || compareText(a.name, b.name);
}

/** A key whose code-unit order is compareRefs' order. */
export function refKey(ref: ObjectRef): string {
  return `${ref.namespace}\u0000${ref.name}`;
}

/** By the object warned about (kind, namespace, name); one object's warnings keep the order they were found in. */
export function compareWarnings(a: RouteWarning, b: RouteWarning): number {
  return compareText(a.kind, b.kind) || compareText(a.namespace ?? '', b.namespace ?? '') || compareText(a.name, b.name);
}

/** A key whose code-unit order is compareWarnings' order. */
export function warningKey(warning: RouteWarning): string {
  return `${warning.kind}\u0000${warning.namespace ?? ''}\u0000${warning.name}`;
}

// Which Ingresses are Pier's: the IngressClass rules of the Ingress v1 spec, plus the deprecated
// annotation that ingress-nginx still honours.
import type { Ingress, IngressClass } from '../model.ts';
import type { RouteOptions } from './types.ts';

export const INGRESS_CLASS_ANNOTATION = 'kubernetes.io/ingress.class';
export const DEFAULT_CLASS_ANNOTATION = 'ingressclass.kubernetes.io/is-default-class';

export type Ownership =
  | { readonly ours: true }
  | { readonly ours: false; readonly missingClass?: string };

export interface ClassIndex {
  /** Names of the IngressClasses whose controller is ours. */
  readonly ourClasses: ReadonlySet<string>;
  readonly allClasses: ReadonlySet<string>;
  /** True when one of our IngressClasses is marked as the cluster's default. */
  readonly weAreDefault: boolean;
}

export function indexClasses(classes: readonly IngressClass[], controllerClass: string): ClassIndex {
  const ours = classes.filter((ingressClass) => ingressClass.spec.controller === controllerClass);
  return {
    ourClasses: new Set(ours.map((ingressClass) => ingressClass.metadata.name)),
    allClasses: new Set(classes.map((ingressClass) => ingressClass.metadata.name)),
    weAreDefault: ours.some((ingressClass) => ingressClass.metadata.annotations?.[DEFAULT_CLASS_ANNOTATION] === 'true'),
  };
}

export function ownership(ingress: Ingress, classes: ClassIndex, options: RouteOptions): Ownership {
  // The deprecated annotation wins over spec.ingressClassName, as in ingress-nginx.
  const annotated = ingress.metadata.annotations?.[INGRESS_CLASS_ANNOTATION];
  if (annotated !== undefined) {
    return { ours: annotated === options.ingressClass || classes.ourClasses.has(annotated) };
  }
  const className = ingress.spec.ingressClassName;
  if (className !== undefined) {
    if (classes.ourClasses.has(className)) return { ours: true };
    return classes.allClasses.has(className) ? { ours: false } : { ours: false, missingClass: className };
  }
  return { ours: classes.weAreDefault || options.watchIngressWithoutClass };
}

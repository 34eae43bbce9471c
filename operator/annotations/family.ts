// What an annotation family is: the keys it reads under the prefix, each through a zod schema, and
// a typed, serializable configuration built from them with ingress-nginx's defaults (ingress-nginx
// keeps one parser per family too: internal/ingress/annotations/<family>/main.go).
import type { z } from 'zod';

/** Why a key under the prefix is not honoured as written. */
export type AnnotationProblemReason = 'InvalidAnnotation' | 'UnsupportedAnnotation' | 'RefusedAnnotation';

export interface AnnotationProblem {
  /** The full key, prefix included. */
  readonly key: string;
  readonly reason: AnnotationProblemReason;
  readonly message: string;
}

/** A schema that reads an annotation's text (annotations are always strings). */
export type AnnotationSchema<T> = z.ZodType<T, string>;

/** One Ingress's annotations under the prefix, as a family reads them. */
export class AnnotationReader {
  /** The values under the prefix, by key without it: read once, so the many absent keys cost a lookup each. */
  readonly #values = new Map<string, string>();
  readonly #prefix: string;
  readonly #problems: AnnotationProblem[];

  constructor(annotations: Readonly<Record<string, string>>, prefix: string, problems: AnnotationProblem[]) {
    const start = `${prefix}/`;
    for (const [key, value] of Object.entries(annotations)) if (key.startsWith(start)) this.#values.set(key.slice(start.length), value);
    this.#prefix = prefix;
    this.#problems = problems;
  }

  /**
   * The value of `name` through its schema; undefined when the key is absent, or when the schema
   * rejects it: then, as in ingress-nginx, the value is ignored with a warning and the default applies.
   */
  get<T>(name: string, schema: AnnotationSchema<T>, consequence = 'ignored, the default applies'): T | undefined {
    const value = this.#values.get(name);
    if (value === undefined) return undefined;
    const key = `${this.#prefix}/${name}`;
    const parsed = schema.safeParse(value);
    if (parsed.success) return parsed.data;
    const reasons = parsed.error.issues.map((issue) => issue.message).join('; ');
    this.#problems.push({ key, reason: 'InvalidAnnotation', message: `annotation ${key}: "${value}" is invalid (${reasons}); ${consequence}` });
    return undefined;
  }

  /** The keys the Ingress sets under the prefix, without it, sorted. */
  names(): string[] {
    return [...this.#values.keys()].sort();
  }

  /** Reports `name`, when set, as ignored although its value reads: it can't apply as the Ingress stands. */
  ignore(name: string, why: string): void {
    if (!this.#values.has(name)) return;
    const key = `${this.#prefix}/${name}`;
    this.#problems.push({ key, reason: 'InvalidAnnotation', message: `annotation ${key} is ignored: ${why}` });
  }

  /** Whether the Ingress sets `name`, valid or not (a guard that is set but invalid must close its location). */
  has(name: string): boolean {
    return this.#values.has(name);
  }
}

export interface AnnotationFamily<Name extends string, Config> {
  readonly name: Name;
  /** The keys it reads, without the prefix. */
  readonly keys: readonly string[];
  /**
   * Where ingress-nginx applies it: each location (host and path) of the Ingress that carries it,
   * or the whole server block of each of its hosts.
   */
  readonly scope: 'location' | 'server';
  /** The family's configuration for one Ingress, defaults applied. */
  parse(read: AnnotationReader): Config;
}

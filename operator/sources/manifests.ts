// The manifest-file source: every *.yaml, *.yml and *.json under a directory, read into checked
// Kubernetes objects. A file that doesn't parse keeps the objects it had before; an object that
// fails its schema keeps its last good version. Either way the problem is reported with its place.
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { LineCounter, parseAllDocuments } from 'yaml';
import { isKnownKind, objectKey, parseObject, type KubeObject } from '../model.ts';

const MANIFEST_EXTENSIONS = /\.(ya?ml|json)$/i;

/** Whether a file is one the source reads: a change to any other (a log, an editor's swap file) changes nothing. */
export function isManifestFile(path: string): boolean {
  return MANIFEST_EXTENSIONS.test(path);
}

export interface ManifestProblem {
  /** Path relative to the manifest directory. */
  readonly file: string;
  readonly line: number | undefined;
  readonly message: string;
  /** The object it concerns, when one could be named. */
  readonly object?: { readonly kind: string; readonly namespace: string | undefined; readonly name: string };
}

interface FileState {
  readonly objects: ReadonlyMap<string, KubeObject>;
  readonly problems: readonly ManifestProblem[];
}

export interface ManifestSnapshot {
  /** Every object in force (built on first use). */
  readonly objects: readonly KubeObject[];
  readonly problems: readonly ManifestProblem[];
  /** True when a file failed to parse and kept its previous objects. */
  readonly failedFiles: number;
  /** The objects the files read this time define (by `Kind/namespace/name`): the one in force, or null when none is left. */
  readonly changed: ReadonlyMap<string, KubeObject | null>;
}

/** The kind and store key of an object identity (`Kind/namespace/name`). */
export function splitIdentity(id: string): { kind: string; key: string } {
  const slash = id.indexOf('/');
  return { kind: id.slice(0, slash), key: id.slice(slash + 1) };
}

function identity(object: KubeObject): string {
  return `${object.kind}/${objectKey(object.metadata)}`;
}

/** Parses one file's text. Pure: the previous state of the file decides what survives errors. */
export function parseManifestFile(text: string, file: string, previous: FileState | undefined): FileState & { failed: boolean } {
  const lineCounter = new LineCounter();
  const documents = parseAllDocuments(text, { lineCounter, prettyErrors: false });
  const documentList = Array.isArray(documents) ? documents : [];
  for (const document of documentList) {
    const error = document.errors[0];
    if (error) {
      const line = lineCounter.linePos(error.pos[0]).line;
      const message = `${file}:${line}: ${error.message.split('\n')[0]}; the file's previous objects stay in force`;
      return { objects: previous?.objects ?? new Map(), problems: [{ file, line, message }], failed: true };
    }
  }

  const objects = new Map<string, KubeObject>();
  const problems: ManifestProblem[] = [];
  const take = (raw: unknown, line: number): void => {
    if (raw === null || typeof raw !== 'object') return;
    const record = raw as Record<string, unknown>;
    if (record.kind === 'List' && Array.isArray(record.items)) {
      for (const item of record.items) take(item, line);
      return;
    }
    if (!isKnownKind(record.kind)) return;
    const metadata = (record.metadata ?? {}) as { name?: unknown; namespace?: unknown };
    const name = typeof metadata.name === 'string' ? metadata.name : '(unnamed)';
    const namespace = typeof metadata.namespace === 'string' ? metadata.namespace : record.kind === 'IngressClass' ? undefined : 'default';
    const parsed = parseObject(raw, record.kind);
    if (parsed.ok) {
      const id = identity(parsed.object);
      if (objects.has(id)) {
        problems.push({ file, line, message: `${file}:${line}: ${id} is defined twice; the first definition is used`, object: { kind: record.kind, namespace, name } });
        return;
      }
      objects.set(id, parsed.object);
      return;
    }
    const id = `${record.kind}/${namespace ? `${namespace}/` : ''}${name}`;
    const lastGood = previous?.objects.get(id);
    if (lastGood) objects.set(id, lastGood);
    problems.push({
      file,
      line,
      message: `${file}:${line}: ${record.kind} ${namespace ? `${namespace}/` : ''}${name} is invalid: ${parsed.error}${lastGood ? '; its last good version stays in force' : ''}`,
      object: { kind: record.kind, namespace, name },
    });
  };
  for (const document of documentList) {
    const line = lineCounter.linePos(document.range[0]).line;
    take(document.toJS(), line);
  }
  return { objects, problems, failed: false };
}

async function listManifestFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((entry) => entry.isFile() && MANIFEST_EXTENSIONS.test(entry.name))
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

/** Holds what each manifest file last gave. */
export class ManifestSource {
  readonly dir: string;
  readonly #files = new Map<string, FileState>();
  readonly #failedFiles = new Set<string>();
  /** The files that define each object, so the one in force is found without reading every file's objects. */
  readonly #definers = new Map<string, Set<string>>();
  /** Objects more than one file defines (each such file but the first gets a problem). */
  readonly #duplicated = new Set<string>();

  constructor(dir: string) {
    this.dir = dir;
  }

  /** Reads every manifest file; files that disappeared are forgotten. */
  async loadAll(): Promise<ManifestSnapshot> {
    const paths = await listManifestFiles(this.dir);
    const present = new Set(paths.map((path) => relative(this.dir, path)));
    const touched = new Set<string>();
    for (const file of this.#files.keys()) if (!present.has(file)) this.#setFile(file, null, touched);
    return this.#reload(paths, touched);
  }

  /** Reads these files again (absolute paths); a file that no longer exists is forgotten. */
  reload(paths: Iterable<string>): Promise<ManifestSnapshot> {
    return this.#reload(paths, new Set());
  }

  async #reload(paths: Iterable<string>, touched: Set<string>): Promise<ManifestSnapshot> {
    for (const path of paths) {
      const file = relative(this.dir, path);
      if (!MANIFEST_EXTENSIONS.test(file)) continue;
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch {
        this.#setFile(file, null, touched);
        continue;
      }
      const state = parseManifestFile(text, file, this.#files.get(file));
      if (state.failed) this.#failedFiles.add(file);
      else this.#failedFiles.delete(file);
      this.#setFile(file, { objects: state.objects, problems: state.problems }, touched);
    }
    const changed = new Map<string, KubeObject | null>();
    for (const id of touched) {
      changed.set(id, this.#inForce(id));
      if ((this.#definers.get(id)?.size ?? 0) > 1) this.#duplicated.add(id);
      else this.#duplicated.delete(id);
    }
    return this.#snapshot(changed);
  }

  /** Records what a file now holds (null: it is gone), noting every object it defined before or defines now. */
  #setFile(file: string, state: FileState | null, touched: Set<string>): void {
    for (const id of this.#files.get(file)?.objects.keys() ?? []) {
      touched.add(id);
      const definers = this.#definers.get(id);
      definers?.delete(file);
      if (definers?.size === 0) this.#definers.delete(id);
    }
    if (state === null) {
      this.#files.delete(file);
      this.#failedFiles.delete(file);
      return;
    }
    this.#files.set(file, state);
    for (const id of state.objects.keys()) {
      touched.add(id);
      const definers = this.#definers.get(id);
      if (definers) definers.add(file);
      else this.#definers.set(id, new Set([file]));
    }
  }

  /** The files defining an object, the one in force (the first by name) first. */
  #definersOf(id: string): string[] {
    return [...(this.#definers.get(id) ?? [])].sort((a, b) => (a < b ? -1 : 1));
  }

  #inForce(id: string): KubeObject | null {
    const first = this.#definersOf(id)[0];
    return first === undefined ? null : (this.#files.get(first)?.objects.get(id) ?? null);
  }

  #snapshot(changed: ReadonlyMap<string, KubeObject | null>): ManifestSnapshot {
    const problems: ManifestProblem[] = [];
    const files = [...this.#files.entries()].filter(([, state]) => state.problems.length > 0).sort(([a], [b]) => (a < b ? -1 : 1));
    for (const [, state] of files) problems.push(...state.problems);
    for (const id of [...this.#duplicated].sort()) {
      const [first, ...others] = this.#definersOf(id);
      for (const file of others) problems.push({ file, line: undefined, message: `${file}: ${id} is also defined in ${first}; the one in ${first} is used` });
    }
    let objects: readonly KubeObject[] | null = null;
    const allObjects = (): readonly KubeObject[] => [...this.#definers.keys()].map((id) => this.#inForce(id) as KubeObject);
    return {
      get objects() {
        objects ??= allObjects();
        return objects;
      },
      problems,
      failedFiles: this.#failedFiles.size,
      changed,
    };
  }
}

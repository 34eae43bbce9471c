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
  readonly objects: readonly KubeObject[];
  readonly problems: readonly ManifestProblem[];
  /** True when a file failed to parse and kept its previous objects. */
  readonly failedFiles: number;
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

  constructor(dir: string) {
    this.dir = dir;
  }

  /** Reads every manifest file; files that disappeared are forgotten. */
  async loadAll(): Promise<ManifestSnapshot> {
    const paths = await listManifestFiles(this.dir);
    const present = new Set(paths.map((path) => relative(this.dir, path)));
    for (const file of this.#files.keys()) if (!present.has(file)) this.#forget(file);
    return this.reload(paths);
  }

  /** Reads these files again (absolute paths); a file that no longer exists is forgotten. */
  async reload(paths: Iterable<string>): Promise<ManifestSnapshot> {
    for (const path of paths) {
      const file = relative(this.dir, path);
      if (!MANIFEST_EXTENSIONS.test(file)) continue;
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch {
        this.#forget(file);
        continue;
      }
      const state = parseManifestFile(text, file, this.#files.get(file));
      if (state.failed) this.#failedFiles.add(file);
      else this.#failedFiles.delete(file);
      this.#files.set(file, { objects: state.objects, problems: state.problems });
    }
    return this.snapshot();
  }

  #forget(file: string): void {
    this.#files.delete(file);
    this.#failedFiles.delete(file);
  }

  snapshot(): ManifestSnapshot {
    const objects: KubeObject[] = [];
    const problems: ManifestProblem[] = [];
    const seen = new Map<string, string>();
    for (const [file, state] of [...this.#files.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
      problems.push(...state.problems);
      for (const [id, object] of state.objects) {
        const firstFile = seen.get(id);
        if (firstFile !== undefined) {
          problems.push({ file, line: undefined, message: `${file}: ${id} is also defined in ${firstFile}; the one in ${firstFile} is used` });
          continue;
        }
        seen.set(id, file);
        objects.push(object);
      }
    }
    return { objects, problems, failedFiles: this.#failedFiles.size };
  }
}

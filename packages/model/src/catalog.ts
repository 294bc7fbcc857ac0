/**
 * A models folder laid out `<name>/<version>/`, watched: the newest loadable
 * version of each name serves; the folder is scanned again on a timer so that
 * a new version is picked up without a restart. A version that fails to load
 * never replaces one that works; it is reported once per state of its files
 * and tried again when they change (a folder scanned while it was still being
 * copied, or a version fixed in place).
 *
 * What "loading" means is the caller's: the worker builds a kernel for each
 * model, the gateway only needs the manifest to validate events. Both go
 * through this one watcher, so both see the same versions in the same order
 * and route events to models by the same rules ({@link routeModel}).
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** What a catalog entry must carry. */
export interface CatalogEntry {
  readonly name: string;
  readonly version: string;
}

/** An immutable view of the models serving at one moment, by name. */
export type CatalogSnapshot<T extends CatalogEntry> = ReadonlyMap<string, T>;

/** Settings of a {@link ModelCatalog}. */
export interface ModelCatalogOptions<T extends CatalogEntry> {
  readonly dir: string;
  /** Loads one version folder; throws when it is not a usable model. */
  readonly load: (dir: string, name: string, version: string) => Promise<T>;
  /** A version started serving (`previous` is the version it replaced). */
  readonly onLoaded?: (entry: T, previous: T | undefined) => void;
  /**
   * A version was refused; reported once per state of its folder's files (a
   * version whose files change is tried, and may be refused, again). `serving`
   * is what keeps serving, if anything.
   */
  readonly onRefused?: (name: string, version: string, err: unknown, serving: T | undefined) => void;
  /** The folder itself could not be read. */
  readonly onUnreadable?: (dir: string, err: unknown) => void;
}

/**
 * Orders versions: numerically when both are whole numbers ("10" after "9"),
 * otherwise by natural string order ("2024-06-01" after "2024-05-30").
 */
export function compareVersions(a: string, b: string): number {
  if (/^\d+$/.test(a) && /^\d+$/.test(b)) return Number(a) - Number(b);
  return a.localeCompare(b, 'en', { numeric: true });
}

/** Watches a models folder and serves the newest good version of each model. */
export class ModelCatalog<T extends CatalogEntry> {
  readonly #o: ModelCatalogOptions<T>;
  #snapshot: CatalogSnapshot<T> = new Map();
  /**
   * Versions that failed, by `name/version`, with the state of their files
   * when they were tried: a version is tried again (and a failure reported
   * again) only when that state changes.
   */
  readonly #failed = new Map<string, string>();
  #timer: NodeJS.Timeout | undefined;
  #scanning: Promise<void> | undefined;

  constructor(options: ModelCatalogOptions<T>) {
    this.#o = options;
  }

  /** The models serving now; a batch or request holds on to one snapshot. */
  snapshot(): CatalogSnapshot<T> {
    return this.#snapshot;
  }

  /** Scans once now, then every `pollMs`. */
  async start(pollMs: number): Promise<void> {
    await this.scan();
    this.#timer = setInterval(() => {
      void this.scan();
    }, pollMs);
    this.#timer.unref();
  }

  /** Stops the timer; the last snapshot stays readable. */
  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One scan of the folder; concurrent calls share one scan. */
  scan(): Promise<void> {
    this.#scanning ??= this.#scan().finally(() => {
      this.#scanning = undefined;
    });
    return this.#scanning;
  }

  async #scan(): Promise<void> {
    const { dir } = this.#o;
    let names: string[];
    try {
      names = (await readdir(dir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
    } catch (err) {
      this.#o.onUnreadable?.(dir, err);
      return;
    }
    const next = new Map(this.#snapshot);
    const seen = new Set<string>();
    for (const name of names) {
      let versions: string[];
      try {
        versions = (await readdir(join(dir, name), { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
      } catch {
        continue;
      }
      for (const version of versions) seen.add(`${name}/${version}`);
      versions.sort(compareVersions).reverse();
      const current = next.get(name);
      for (const version of versions) {
        // Only a newer version than the one serving can replace it.
        if (current && compareVersions(version, current.version) <= 0) break;
        const id = `${name}/${version}`;
        const path = join(dir, name, version);
        // Taken before loading: files that change during the load make a new state.
        const state = await folderState(path);
        if (this.#failed.get(id) === state) continue;
        try {
          const entry = await this.#o.load(path, name, version);
          this.#failed.delete(id);
          next.set(name, entry);
          this.#o.onLoaded?.(entry, current);
          break;
        } catch (err) {
          this.#failed.set(id, state);
          this.#o.onRefused?.(name, version, err, current);
        }
      }
    }
    // Forget failures of versions that are gone (a version put back is tried again).
    for (const id of this.#failed.keys()) if (!seen.has(id)) this.#failed.delete(id);
    this.#snapshot = next;
  }
}

/**
 * The state of a version folder's files (model.json, the weights file, and
 * whatever else is there): name, size, mtime, ctime and inode of each entry,
 * so that a file written, replaced or renamed into place changes it. Cheap:
 * one readdir and one stat per file, and only for versions not serving.
 */
async function folderState(path: string): Promise<string> {
  let names: string[];
  try {
    names = (await readdir(path)).sort();
  } catch (err) {
    return `unreadable:${(err as NodeJS.ErrnoException).code ?? 'error'}`;
  }
  const parts = await Promise.all(
    names.map(async (name) => {
      try {
        // stat follows symlinks: a link swapped to new files is a change.
        const s = await stat(join(path, name), { bigint: true });
        return `${name}:${s.size}:${s.mtimeNs}:${s.ctimeNs}:${s.ino}`;
      } catch (err) {
        return `${name}:${(err as NodeJS.ErrnoException).code ?? 'error'}`;
      }
    }),
  );
  return parts.join('\n');
}

/** How events without a `model` field find theirs. */
export interface ModelRoutes {
  /** Topic-to-model routes (TOPIC_MODELS). */
  readonly topicModels: ReadonlyMap<string, string>;
  /** DEFAULT_MODEL, if set. */
  readonly defaultModel: string | undefined;
}

/**
 * The model an event on `topic` is for: its own `model` field, else the
 * topic's route, else the default model, else the only model serving when
 * exactly one does. Undefined when none applies. The worker and the gateway
 * both decide with this, so the gateway refuses exactly what the worker would.
 */
export function routeModel(eventModel: string | undefined, topic: string, routes: ModelRoutes, serving: ReadonlyMap<string, unknown>): string | undefined {
  // The worker asks for every event: the only model is looked up last, and without an array.
  const routed = eventModel ?? routes.topicModels.get(topic) ?? routes.defaultModel;
  if (routed !== undefined || serving.size !== 1) return routed;
  for (const only of serving.keys()) return only;
  return undefined;
}

/**
 * A models folder laid out `<name>/<version>/`, watched: the newest loadable
 * version of each name serves; the folder is scanned again on a timer so that
 * a new version is picked up without a restart. A version that fails to load
 * is reported once and never replaces one that works.
 *
 * What "loading" means is the caller's: the worker builds a kernel for each
 * model, the gateway only needs the manifest to validate events. Both go
 * through this one watcher, so both see the same versions in the same order
 * and route events to models by the same rules ({@link routeModel}).
 */
import { readdir } from 'node:fs/promises';
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
  /** A version was refused; reported once per version. `serving` is what keeps serving, if anything. */
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
  /** Versions that failed, so that each failure is reported once. */
  readonly #failed = new Set<string>();
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
    for (const name of names) {
      let versions: string[];
      try {
        versions = (await readdir(join(dir, name), { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
      } catch {
        continue;
      }
      versions.sort(compareVersions).reverse();
      const current = next.get(name);
      for (const version of versions) {
        // Only a newer version than the one serving can replace it.
        if (current && compareVersions(version, current.version) <= 0) break;
        const id = `${name}/${version}`;
        if (this.#failed.has(id)) continue;
        try {
          const entry = await this.#o.load(join(dir, name, version), name, version);
          next.set(name, entry);
          this.#o.onLoaded?.(entry, current);
          break;
        } catch (err) {
          this.#failed.add(id);
          this.#o.onRefused?.(name, version, err, current);
        }
      }
    }
    this.#snapshot = next;
  }
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
  const only = serving.size === 1 ? [...serving.keys()][0] : undefined;
  return eventModel ?? routes.topicModels.get(topic) ?? routes.defaultModel ?? only;
}

/**
 * Real worker processes for the integration tests: `node services/worker/src/main.ts`
 * (the image's command) started as a child with its own environment, its
 * stdout and stderr kept in a file under test-artifacts/ for diagnosis, and
 * always killed when the test file ends.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { weatherOnlyModelsDir } from '../../../../test/support/models.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
export const WORKER_MAIN = join(REPO_ROOT, 'services', 'worker', 'src', 'main.ts');
export const REPO_MODELS_DIR = join(REPO_ROOT, 'models');

/** What the worker processes serve: models/weather/1 alone (see test/support/models.ts). */
export const SERVED_MODELS_DIR = weatherOnlyModelsDir();

/** Where a test file keeps its logs and notes: test-artifacts/worker-int/<label>-<ns>/. */
export function artifactsDir(label: string, ns: string): string {
  const dir = join(REPO_ROOT, 'test-artifacts', 'worker-int', `${label}-${ns}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** How a process ended. */
export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A parsed pino line of a worker's output. */
export interface LogLine {
  readonly level?: string;
  readonly msg?: string;
  readonly [field: string]: unknown;
}

const live = new Set<ChildProcess>();
// Last resort if a test file dies without its afterAll: no worker outlives the test process.
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

/** One worker child process. */
export class WorkerProcess {
  readonly name: string;
  readonly logPath: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<Exit>;
  /** Parsed JSON log lines so far (stdout and stderr). */
  readonly lines: LogLine[] = [];
  #exit: Exit | null = null;
  #metricsPort: number | undefined;
  readonly #out: WriteStream;
  readonly #waiters = new Set<() => void>();

  private constructor(name: string, env: Record<string, string>, dir: string) {
    this.name = name;
    this.logPath = join(dir, `${name}.log`);
    this.#out = createWriteStream(this.logPath, { flags: 'a' });
    this.child = spawn(process.execPath, [WORKER_MAIN], {
      cwd: REPO_ROOT,
      // Only what the worker needs: nothing of the test runner's environment leaks in.
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (this.child.pid === undefined) throw new Error(`could not start worker ${name}`);
    this.pid = this.child.pid;
    live.add(this.child);
    this.#out.write(`# ${new Date().toISOString()} started ${name} pid ${this.pid}\n`);
    this.#collect(this.child.stdout!);
    this.#collect(this.child.stderr!);
    this.exited = new Promise<Exit>((resolve) => {
      // 'close', not 'exit': it comes after the last output was read.
      this.child.once('close', (code, signal) => {
        live.delete(this.child);
        this.#exit = { code, signal };
        this.#out.write(`# ${new Date().toISOString()} ${name} pid ${this.pid} exited code ${code} signal ${signal}\n`);
        this.#notify();
        resolve(this.#exit);
      });
    });
  }

  /** Starts a worker; resolves once it logged 'worker running' (or rejects with the tail of its log). */
  static async start(name: string, env: Record<string, string>, dir: string, timeoutMs = 60_000): Promise<WorkerProcess> {
    const w = new WorkerProcess(name, env, dir);
    try {
      await w.waitForLog((l) => l.msg === 'worker running', 'worker running', timeoutMs);
    } catch (err) {
      w.kill('SIGKILL');
      await w.exited;
      throw err;
    }
    return w;
  }

  /** Port of /metrics, /healthz and /readyz, from the 'worker running' line. */
  get metricsPort(): number {
    if (this.#metricsPort === undefined) throw new Error(`${this.name} has not reported its metrics port`);
    return this.#metricsPort;
  }

  /** Null while running. */
  get exit(): Exit | null {
    return this.#exit;
  }

  /** Partitions this worker was given at its latest group join (from its log). */
  assignedPartitions(): number {
    const join = this.lines.findLast((l) => l.msg === 'joined consumer group');
    const assignments = (join?.assignments ?? {}) as Record<string, number[]>;
    return Object.values(assignments).reduce((n, ps) => n + ps.length, 0);
  }

  kill(signal: NodeJS.Signals): void {
    if (this.#exit === null) this.child.kill(signal);
  }

  /** SIGTERM (drain) and wait for the exit, SIGKILL after `timeoutMs`. */
  async stop(timeoutMs = 30_000): Promise<Exit> {
    this.kill('SIGTERM');
    const timer = setTimeout(() => this.kill('SIGKILL'), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Waits for a log line matching `test`; rejects if the process exits first or after `timeoutMs`. */
  waitForLog(test: (l: LogLine) => boolean, what: string, timeoutMs = 60_000): Promise<LogLine> {
    return new Promise<LogLine>((resolve, reject) => {
      const check = (): boolean => {
        const hit = this.lines.find(test);
        if (hit) {
          done();
          resolve(hit);
          return true;
        }
        if (this.#exit !== null) {
          done();
          reject(new Error(`${this.name} exited (code ${this.#exit.code}, signal ${this.#exit.signal}) before logging "${what}"; see ${this.logPath}`));
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.name} did not log "${what}" within ${timeoutMs} ms; see ${this.logPath}`));
      }, timeoutMs);
      const waiter = (): void => {
        check();
      };
      const done = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(waiter);
      };
      if (!check()) this.#waiters.add(waiter);
    });
  }

  /** GET on the worker's health server. */
  async get(path: string): Promise<{ status: number; text: string }> {
    const res = await fetch(`http://127.0.0.1:${this.metricsPort}${path}`);
    return { status: res.status, text: await res.text() };
  }

  #collect(stream: NodeJS.ReadableStream): void {
    let rest = '';
    stream.on('data', (chunk: Buffer) => {
      this.#out.write(chunk);
      const text = rest + chunk.toString('utf8');
      const parts = text.split('\n');
      rest = parts.pop()!;
      for (const line of parts) this.#parse(line);
      this.#notify();
    });
  }

  #parse(line: string): void {
    if (!line.startsWith('{')) return;
    try {
      const l = JSON.parse(line) as LogLine;
      this.lines.push(l);
      if (l.msg === 'worker running' && typeof l.metricsPort === 'number') this.#metricsPort = l.metricsPort;
    } catch {
      // Not JSON (a stack trace, a warning from node): it is in the file.
    }
  }

  #notify(): void {
    for (const w of [...this.#waiters]) w();
  }

  /** Closes the log file once the process is gone. */
  async close(): Promise<void> {
    if (this.#exit === null) {
      this.kill('SIGKILL');
      await this.exited;
    }
    await new Promise<void>((resolve) => this.#out.end(resolve));
  }
}

/** Kills (SIGKILL) and closes every worker given; for afterAll and finally blocks. */
export async function killAll(workers: Iterable<WorkerProcess>): Promise<void> {
  await Promise.all([...workers].map((w) => w.close()));
}

/** The names a test's worker uses: its own topics, group and Redis prefix. */
export interface WorkerWiring {
  readonly brokers: readonly string[];
  readonly redisUrl: string;
  readonly eventsTopic: string;
  readonly forecastsTopic: string;
  readonly group: string;
  readonly keyPrefix: string;
}

/**
 * The environment of a worker in a test: the test's topics (created by the
 * test, so that its cleanup deletes them: CREATE_TOPICS=false), its group and
 * key prefix, any free metrics port, info logs (the lifecycle lines are
 * what a failed run is diagnosed from), a short state TTL in case cleanup
 * does not run, and fast group membership so that a killed member's
 * partitions move within seconds.
 */
export function workerEnv(w: WorkerWiring, extra: Record<string, string> = {}): Record<string, string> {
  return {
    KAFKA_BROKERS: w.brokers.join(','),
    REDIS_URL: w.redisUrl,
    MODELS_DIR: SERVED_MODELS_DIR,
    EVENTS_TOPICS: w.eventsTopic,
    FORECASTS_TOPIC: w.forecastsTopic,
    CONSUMER_GROUP: w.group,
    STATE_KEY_PREFIX: w.keyPrefix,
    CREATE_TOPICS: 'false',
    METRICS_PORT: '0',
    METRICS_HOST: '127.0.0.1',
    STATE_TTL_SECONDS: '3600',
    KAFKA_SESSION_TIMEOUT_MS: '6000',
    KAFKA_HEARTBEAT_INTERVAL_MS: '500',
    LOG_LEVEL: 'info',
    ...extra,
  };
}

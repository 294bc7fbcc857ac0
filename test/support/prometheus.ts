/**
 * Debian's real Prometheus as a child process for tests: a temporary config
 * scraping the given targets every second (rule files loaded), temporary
 * storage, a free port, and a small client for its HTTP API.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';

export const PROMETHEUS_BIN = process.env.PROMETHEUS ?? '/usr/bin/prometheus';

/** A free TCP port on 127.0.0.1 (the OS picks; closed again before use). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.once('error', reject);
  });
}

/** One sample vector or matrix entry as the API returns it. */
export interface PromSeries {
  readonly metric: Record<string, string>;
  readonly value?: [number, string];
}

/** A running Prometheus. */
export interface TestPrometheus {
  readonly url: string;
  readonly logPath: string;
  /** Instant query; throws with Prometheus' own error text when the query is invalid. */
  query(expr: string): Promise<PromSeries[]>;
  /** Values of a label on series matching `match`. */
  labelValues(label: string, match: string): Promise<string[]>;
  /** Scrape targets with their health. */
  targets(): Promise<{ job: string; instance: string; health: string; lastError: string }[]>;
  stop(): Promise<void>;
}

/**
 * Starts Prometheus scraping `jobs` (job name -> host:port targets) every
 * second and evaluating `ruleFiles` every second. Fails with a clear message
 * when the binary is missing.
 */
export async function startPrometheus(options: { jobs: Readonly<Record<string, readonly string[]>>; ruleFiles: readonly string[]; logDir: string }): Promise<TestPrometheus> {
  if (!existsSync(PROMETHEUS_BIN)) {
    throw new Error(`prometheus not found at ${PROMETHEUS_BIN}: install Debian's prometheus package (apt-get install prometheus) or set PROMETHEUS to its path`);
  }
  const dir = await mkdtemp(join(tmpdir(), 'streamcell-prometheus-'));
  const config = {
    global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
    rule_files: [...options.ruleFiles],
    scrape_configs: Object.entries(options.jobs)
      .filter(([, targets]) => targets.length > 0)
      .map(([job, targets]) => ({ job_name: job, static_configs: [{ targets: [...targets] }] })),
  };
  const configPath = join(dir, 'prometheus.yml');
  await writeFile(configPath, stringify(config));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const logPath = join(options.logDir, 'prometheus.log');
  const log = createWriteStream(logPath, { flags: 'a' });
  const child: ChildProcess = spawn(
    PROMETHEUS_BIN,
    [`--config.file=${configPath}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--storage.tsdb.retention.time=1h', '--log.level=warn'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout!.pipe(log, { end: false });
  child.stderr!.pipe(log, { end: false });
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const kill = (): void => void child.kill('SIGKILL');
  process.once('exit', kill);

  const stop = async (): Promise<void> => {
    process.off('exit', kill);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    log.end();
    await rm(dir, { recursive: true, force: true });
  };

  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${url}${path}`);
    const body = (await res.json()) as { status: string; data: T; error?: string; errorType?: string };
    if (body.status !== 'success') throw new Error(`Prometheus ${path}: ${body.errorType ?? ''} ${body.error ?? res.status}`);
    return body.data;
  };

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`prometheus exited with ${child.exitCode} at start; see ${logPath}`);
    }
    const ready = await fetch(`${url}/-/ready`).then((r) => r.ok, () => false);
    if (ready) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus not ready within 30 s; see ${logPath}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }

  return {
    url,
    logPath,
    async query(expr) {
      const data = await api<{ resultType: string; result: PromSeries[] | [number, string] }>(`/api/v1/query?query=${encodeURIComponent(expr)}`);
      // Scalars come back as one [time, value] pair; count them as one sample.
      return data.resultType === 'scalar' || data.resultType === 'string' ? [{ metric: {}, value: data.result as [number, string] }] : (data.result as PromSeries[]);
    },
    labelValues: (label, match) => api<string[]>(`/api/v1/label/${encodeURIComponent(label)}/values?match[]=${encodeURIComponent(match)}`),
    async targets() {
      const data = await api<{ activeTargets: { labels: Record<string, string>; health: string; lastError: string }[] }>('/api/v1/targets');
      return data.activeTargets.map((t) => ({ job: t.labels.job ?? '', instance: t.labels.instance ?? '', health: t.health, lastError: t.lastError }));
    },
    stop,
  };
}

/**
 * Static checks of docker-compose.yml and deploy/docker/Dockerfile: there is
 * no Docker engine on the development machines, so this is how we keep the
 * files users run correct.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const ROOT = join(import.meta.dirname, '..');

interface ComposeService {
  image?: string;
  build?: string | { context?: string; dockerfile?: string; args?: Record<string, string> };
  environment?: Record<string, string> | string[];
  ports?: (string | { published?: string | number })[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { test?: string | string[]; disable?: boolean };
  volumes?: string[];
}
interface ComposeFile {
  services: Record<string, ComposeService>;
}

const composeText = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8');
const compose = parse(composeText) as ComposeFile;
const services = Object.entries(compose.services);

function hostPort(spec: string | { published?: string | number }): string | undefined {
  if (typeof spec !== 'string') return spec.published === undefined ? undefined : String(spec.published);
  const parts = spec.split('/')[0]!.split(':');
  // "host:container", "ip:host:container" or just "container" (no host port).
  return parts.length >= 2 ? parts[parts.length - 2] : undefined;
}

function builtService(svc: ComposeService): string | undefined {
  if (svc.build === undefined || typeof svc.build === 'string') return undefined;
  return svc.build.args?.SERVICE;
}

describe('docker-compose.yml', () => {
  it('gives every service an image or a build', () => {
    for (const [name, svc] of services) {
      expect(svc.image ?? svc.build, `service ${name}`).toBeDefined();
    }
  });

  it('gives every service a healthcheck', () => {
    for (const [name, svc] of services) {
      expect(svc.healthcheck?.test, `service ${name} healthcheck`).toBeDefined();
      expect(svc.healthcheck?.disable, `service ${name} healthcheck disabled`).not.toBe(true);
    }
  });

  it('publishes no host port twice', () => {
    const seen = new Map<string, string>();
    for (const [name, svc] of services) {
      for (const spec of svc.ports ?? []) {
        const port = hostPort(spec);
        if (port === undefined) continue;
        expect(seen.get(port), `host port ${port} of ${name}`).toBeUndefined();
        seen.set(port, name);
      }
    }
    expect(seen.size).toBeGreaterThan(0);
  });

  it('depends only on services that exist, waiting for health where there is a healthcheck', () => {
    for (const [name, svc] of services) {
      const deps = svc.depends_on ?? [];
      const entries = Array.isArray(deps) ? deps.map((d) => [d, { condition: 'service_started' }] as const) : Object.entries(deps);
      for (const [dep, { condition }] of entries) {
        expect(compose.services[dep], `${name} depends on unknown ${dep}`).toBeDefined();
        expect(['service_started', 'service_healthy', 'service_completed_successfully']).toContain(condition);
        if (compose.services[dep]?.healthcheck) expect(condition, `${name} -> ${dep}`).toBe('service_healthy');
      }
    }
  });

  it('interpolates no variable without a default, so `docker compose up` needs no .env file', () => {
    const bare = [...composeText.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1]);
    expect(bare).toEqual([]);
  });

  it('lists every service under services/ exactly when it has landed, each with the env vars it reads', async () => {
    const landed = readdirSync(join(ROOT, 'services'), { withFileTypes: true })
      .filter((d) => d.isDirectory() && existsSync(join(ROOT, 'services', d.name, 'package.json')))
      .map((d) => d.name)
      .sort();
    // A service may run more than once (two replayers feeding different data).
    const built = [...new Set(services.map(([, svc]) => builtService(svc)).filter((s): s is string => s !== undefined))].sort();
    expect(built).toEqual(landed);
    for (const [name, svc] of services) {
      const target = builtService(svc);
      if (target === undefined) continue;
      // Each service's config module lists the variables it reads (services/<name>/src/config.ts).
      const config = (await import(join(ROOT, 'services', target, 'src', 'config.ts'))) as { ENV_VARS: { name: string; required: boolean }[] };
      const env = Array.isArray(svc.environment)
        ? Object.fromEntries(svc.environment.map((e) => e.split('=', 2) as [string, string]))
        : (svc.environment ?? {});
      for (const v of config.ENV_VARS.filter((e) => e.required)) {
        expect(env[v.name], `${name} must set ${v.name}`).toBeDefined();
      }
    }
  });
});

describe('what compose mounts into Prometheus and Grafana', () => {
  /** Host path (relative to the repo) mounted at `target` in `service`, or undefined. */
  function mountedAt(service: string, target: string): string | undefined {
    for (const v of compose.services[service]?.volumes ?? []) {
      const [host, container] = v.split(':');
      if (container === target && host!.startsWith('./')) return host!.slice(2);
    }
    return undefined;
  }

  it('gives Prometheus its config and every rule file the config names', () => {
    const dir = mountedAt('prometheus', '/etc/prometheus');
    expect(dir, 'deploy/prometheus mounted at /etc/prometheus').toBe('deploy/prometheus');
    const config = parse(readFileSync(join(ROOT, dir!, 'prometheus.yml'), 'utf8')) as { rule_files?: string[]; scrape_configs: { job_name: string }[] };
    expect(config.scrape_configs.map((j) => j.job_name)).toEqual(expect.arrayContaining(['worker', 'gateway', 'replayer']));
    for (const pattern of config.rule_files ?? []) {
      const [folder, glob] = [pattern.slice(0, pattern.lastIndexOf('/')), pattern.slice(pattern.lastIndexOf('/') + 1)];
      const suffix = glob.replace('*', '');
      const files = readdirSync(join(ROOT, dir!, folder)).filter((f) => f.endsWith(suffix));
      expect(files.length, `rule files ${pattern}`).toBeGreaterThan(0);
    }
  });

  it('gives Grafana its provisioning and the dashboards folder the provisioning reads', () => {
    expect(mountedAt('grafana', '/etc/grafana/provisioning')).toBe('deploy/grafana/provisioning');
    const provider = parse(readFileSync(join(ROOT, 'deploy/grafana/provisioning/dashboards/streamcell.yml'), 'utf8')) as { providers: { options: { path: string } }[] };
    const path = provider.providers[0]!.options.path;
    const host = mountedAt('grafana', path);
    expect(host, `a volume mounted at ${path}`).toBe('deploy/grafana/dashboards');
    expect(readdirSync(join(ROOT, host!)).filter((f) => f.endsWith('.json')).sort()).toEqual(['dead-letters.json', 'overview.json', 'quality.json', 'state.json']);
  });
});

describe('deploy/docker/Dockerfile', () => {
  const dockerfile = readFileSync(join(ROOT, 'deploy/docker/Dockerfile'), 'utf8');
  const stages = dockerfile.split(/^FROM /m).slice(1);

  it('builds on node:24-slim in every stage and runs as a non-root user', () => {
    const names: string[] = [];
    for (const stage of stages) {
      const [base, , name] = stage.split('\n')[0]!.trim().split(/\s+/);
      expect(base === 'node:24-slim' || names.includes(base!), `FROM ${base}`).toBe(true);
      if (name) names.push(name);
    }
    const runtime = stages[stages.length - 1]!;
    const user = /^USER\s+(\S+)/m.exec(runtime)?.[1];
    expect(user).toBeDefined();
    expect(['root', '0']).not.toContain(user);
  });

  it('installs the pnpm version the workspace pins, and only the service\'s production dependencies from the lockfile', () => {
    const pinned = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { packageManager: string }).packageManager;
    expect(dockerfile).toContain(`PNPM_VERSION=${pinned.replace('pnpm@', '')}`);
    expect(dockerfile).toMatch(/pnpm install --frozen-lockfile --prod --filter "@streamcell\/\$\{SERVICE\}\.\.\."/);
  });

  it('runs Node with the young-generation size bench:e2e measures with, and the bench reads it from here', () => {
    const options = /^\s*NODE_OPTIONS="([^"]*)"/m.exec(stages[stages.length - 1]!)?.[1];
    expect(options?.split(/\s+/)).toContain('--max-semi-space-size=8');
    expect(readFileSync(join(ROOT, 'bench/e2e/main.ts'), 'utf8')).toContain("'deploy/docker/Dockerfile'");
  });

  it('starts each built service with the entry its package.json names', () => {
    for (const [, svc] of services) {
      const target = builtService(svc);
      if (target === undefined) continue;
      const pkg = JSON.parse(readFileSync(join(ROOT, 'services', target, 'package.json'), 'utf8')) as { scripts: { start: string } };
      expect(pkg.scripts.start).toBe('node src/main.ts');
      expect(existsSync(join(ROOT, 'services', target, 'src', 'main.ts'))).toBe(true);
    }
    expect(dockerfile).toContain('CMD ["node", "src/main.ts"]');
  });

  it('copies the patch of every patched dependency before installing', () => {
    const workspace = readFileSync(join(ROOT, 'pnpm-workspace.yaml'), 'utf8');
    const patchFiles = [...workspace.matchAll(/^ {2}\S+: (patches\/\S+)$/gm)].map((m) => m[1]!);
    expect(patchFiles.length).toBeGreaterThan(0);
    const install = dockerfile.search(/^RUN pnpm install/m);
    expect(install).toBeGreaterThan(0);
    const copied = [...dockerfile.slice(0, install).matchAll(/^COPY (?!--from)(?:--\S+ )*(.+) \S+$/gm)].flatMap((m) => m[1]!.split(/\s+/));
    for (const file of patchFiles) {
      expect(existsSync(join(ROOT, file)), file).toBe(true);
      expect(copied.some((src) => file === src || file.startsWith(`${src}/`)), `${file} copied before pnpm install`).toBe(true);
    }
  });

  it('copies only paths that exist in the repository', () => {
    for (const m of dockerfile.matchAll(/^COPY (?!--from)(?:--\S+ )*(.+) \S+$/gm)) {
      for (const src of m[1]!.split(/\s+/)) expect(existsSync(join(ROOT, src)), `COPY source ${src}`).toBe(true);
    }
  });
});

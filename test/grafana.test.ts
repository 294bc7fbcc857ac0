/**
 * deploy/grafana checked without a Grafana server (none can run on these
 * machines): the committed dashboard JSON is exactly what dashboards.ts
 * builds with Grafana's typed builders, every panel queries the provisioned
 * datasource, and every metric a panel or rule reads is one the services
 * export. test/dashboards.int.test.ts then runs every query on a real
 * Prometheus.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createGatewayMetrics, createReplayerMetrics, createWorkerMetrics } from '@streamcell/telemetry';
import { buildDashboards, dashboardJson } from '../deploy/grafana/dashboards.ts';
import { DASHBOARDS_DIR, REPO_ROOT, allPanels, committedDashboards, metricNames, panelQueries, ruleQueries, variableQueries } from './support/dashboards.ts';

/** Every series name the worker, the replayer and the gateway export (histograms with their _bucket, _sum and _count). */
async function exportedNames(): Promise<Set<string>> {
  const names = new Set<string>();
  for (const registry of [createWorkerMetrics().registry, createReplayerMetrics().registry, createGatewayMetrics().registry]) {
    for (const m of await registry.getMetricsAsJSON()) {
      names.add(m.name);
      // prom-client's typings say a numeric enum; at run time the type is Prometheus' own word.
      if ((m.type as unknown as string) === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(m.name + s);
    }
  }
  return names;
}

describe('deploy/grafana', () => {
  it('commits exactly the JSON dashboards.ts builds (run node deploy/grafana/generate.ts after a change)', () => {
    const built = buildDashboards();
    expect(committedDashboards().map((d) => d.file)).toEqual(built.map((d) => d.file).sort());
    for (const { file, dashboard } of built) {
      expect(readFileSync(join(DASHBOARDS_DIR, file), 'utf8'), file).toBe(dashboardJson(dashboard));
    }
  });

  it('has the overview, state, quality and dead-letter dashboards, with unique uids and panel ids', () => {
    const dashboards = committedDashboards().map((d) => d.dashboard);
    expect(dashboards.map((d) => d.uid).sort()).toEqual(['streamcell-dead-letters', 'streamcell-overview', 'streamcell-quality', 'streamcell-state']);
    for (const d of dashboards) {
      const ids = allPanels(d).map((p) => p.id);
      expect(new Set(ids).size, d.uid).toBe(ids.length);
    }
  });

  it('queries the provisioned Prometheus datasource from every panel, each target with an expression and its own refId', () => {
    const provisioned = parse(readFileSync(join(REPO_ROOT, 'deploy/grafana/provisioning/datasources/prometheus.yml'), 'utf8')) as { datasources: { uid: string; type: string }[] };
    const uid = provisioned.datasources.find((d) => d.type === 'prometheus')!.uid;
    for (const { dashboard } of committedDashboards()) {
      for (const p of allPanels(dashboard).filter((p) => p.type !== 'row')) {
        const where = `${dashboard.uid} "${p.title}"`;
        expect(p.datasource?.uid, where).toBe(uid);
        expect(p.targets?.length ?? 0, where).toBeGreaterThan(0);
        const refIds = p.targets!.map((t) => t.refId);
        expect(new Set(refIds).size, where).toBe(refIds.length);
        for (const t of p.targets!) {
          expect(t.expr?.trim(), where).toBeTruthy();
          expect(t.datasource?.uid ?? uid, where).toBe(uid);
        }
      }
    }
  });

  it('reads only metrics the worker, replayer and gateway export, in panels, variables and rules', async () => {
    const exported = await exportedNames();
    const queries = [...panelQueries(), ...ruleQueries(), ...variableQueries().map((v) => ({ where: v.where, expr: v.metric }))];
    expect(queries.length).toBeGreaterThan(40);
    for (const q of queries) {
      const names = metricNames(q.expr);
      // Recording rules read raw metrics; every other query reads at least one.
      expect(names.length, `${q.where}: ${q.expr}`).toBeGreaterThan(0);
      for (const n of names) {
        if (n === 'up') continue;
        expect(exported.has(n), `${q.where} reads ${n}, which no service exports`).toBe(true);
      }
    }
  });

  it('is provisioned from the folder the dashboards are written to', () => {
    const provider = parse(readFileSync(join(REPO_ROOT, 'deploy/grafana/provisioning/dashboards/streamcell.yml'), 'utf8')) as { providers: { type: string; options: { path: string } }[] };
    expect(provider.providers[0]).toMatchObject({ type: 'file', options: { path: '/var/lib/grafana/dashboards/streamcell' } });
  });
});

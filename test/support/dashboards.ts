/**
 * Every query the operator sees: the PromQL of each dashboard panel, the
 * dashboards' template variable queries, and the expressions of the
 * Prometheus rule files. The static checks (test/grafana.test.ts) and the
 * proof against a real Prometheus (test/dashboards.int.test.ts) read them
 * from here, from the committed files Grafana and Prometheus load.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

export const REPO_ROOT = join(import.meta.dirname, '..', '..');
export const DASHBOARDS_DIR = join(REPO_ROOT, 'deploy', 'grafana', 'dashboards');
export const RULES_DIR = join(REPO_ROOT, 'deploy', 'prometheus', 'rules');

/** A dashboard as committed (only what the checks read). */
export interface DashboardJson {
  readonly uid: string;
  readonly title: string;
  readonly panels: readonly PanelJson[];
  readonly templating?: { readonly list: readonly { readonly name: string; readonly type: string; readonly query?: unknown }[] };
}

/** A panel as committed. */
export interface PanelJson {
  readonly id: number;
  readonly type: string;
  readonly title: string;
  readonly datasource?: { readonly type?: string; readonly uid?: string };
  readonly targets?: readonly { readonly refId?: string; readonly expr?: string; readonly datasource?: { readonly uid?: string } }[];
  readonly panels?: readonly PanelJson[];
}

/** One PromQL expression and where it comes from. */
export interface NamedQuery {
  /** e.g. `dashboard streamcell-overview, panel "Events/s" (A)` or `alert StreamcellNoForecasts`. */
  readonly where: string;
  readonly expr: string;
}

/** The committed dashboards, by file name. */
export function committedDashboards(): { file: string; dashboard: DashboardJson }[] {
  return readdirSync(DASHBOARDS_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({ file, dashboard: JSON.parse(readFileSync(join(DASHBOARDS_DIR, file), 'utf8')) as DashboardJson }));
}

/** Panels of a dashboard, those inside collapsed rows included. */
export function allPanels(d: DashboardJson): PanelJson[] {
  return d.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
}

/** The expression of every target of every panel of every committed dashboard. */
export function panelQueries(): NamedQuery[] {
  return committedDashboards().flatMap(({ dashboard }) =>
    allPanels(dashboard).flatMap((p) => (p.targets ?? []).map((t) => ({ where: `dashboard ${dashboard.uid}, panel "${p.title}" (${t.refId ?? '?'})`, expr: t.expr ?? '' }))),
  );
}

/** Template variables that query Prometheus: `label_values(metric, label)`. */
export function variableQueries(): { where: string; name: string; metric: string; label: string }[] {
  return committedDashboards().flatMap(({ dashboard }) =>
    (dashboard.templating?.list ?? [])
      .filter((v) => v.type === 'query')
      .map((v) => {
        const inner = (v.query as { query?: unknown } | undefined)?.query;
        const text = typeof v.query === 'string' ? v.query : typeof inner === 'string' ? inner : '';
        const m = /^label_values\(\s*([^,]+?)\s*,\s*(\w+)\s*\)$/.exec(text);
        if (m === null) throw new Error(`dashboard ${dashboard.uid}: variable $${v.name} has a query this check does not understand: ${text}`);
        return { where: `dashboard ${dashboard.uid}, variable $${v.name}`, name: v.name, metric: m[1]!, label: m[2]! };
      }),
  );
}

interface RuleFile {
  groups: { name: string; rules: { record?: string; alert?: string; expr: string }[] }[];
}

/** Every recording and alerting rule of deploy/prometheus/rules. */
export function ruleQueries(): (NamedQuery & { kind: 'record' | 'alert'; name: string })[] {
  return readdirSync(RULES_DIR)
    .filter((f) => f.endsWith('.yml'))
    .sort()
    .flatMap((f) =>
      (parse(readFileSync(join(RULES_DIR, f), 'utf8')) as RuleFile).groups.flatMap((g) =>
        g.rules.map((r) => {
          const kind = r.alert === undefined ? ('record' as const) : ('alert' as const);
          const name = r.alert ?? r.record ?? '?';
          return { kind, name, where: `${kind} ${name} (${f})`, expr: r.expr.trim() };
        }),
      ),
    );
}

/** Metric names an expression reads (`streamcell_*` and `up`), recording-rule names (`a:b:c`) left out. */
export function metricNames(expr: string): string[] {
  const names = [...expr.matchAll(/(?<![\w:])(streamcell_[a-z0-9_]+|up)(?=\s*[{[)\s]|$)/g)].map((m) => m[1]!);
  return [...new Set(names)];
}

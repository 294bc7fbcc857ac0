/**
 * Writes the dashboards of dashboards.ts as JSON into deploy/grafana/dashboards/,
 * where Grafana's file provisioning (provisioning/dashboards/streamcell.yml)
 * reads them: `node deploy/grafana/generate.ts`. Commit the JSON it writes.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildDashboards, dashboardJson } from './dashboards.ts';

const dir = join(import.meta.dirname, 'dashboards');
await mkdir(dir, { recursive: true });
for (const { file, dashboard } of buildDashboards()) {
  await writeFile(join(dir, file), dashboardJson(dashboard));
  console.log(`wrote ${join('deploy/grafana/dashboards', file)} (${dashboard.panels?.length ?? 0} panels)`);
}

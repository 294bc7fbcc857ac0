/**
 * The Grafana dashboards, written with Grafana's own builders
 * (@grafana/grafana-foundation-sdk for Grafana 11.6, the version compose
 * runs), so that every panel, query and option is type-checked. Grafana
 * reads JSON: `node deploy/grafana/generate.ts` writes it to
 * deploy/grafana/dashboards/, and test/grafana.test.ts fails when the
 * committed JSON differs from what this file builds.
 *
 * Every query reads metrics of packages/telemetry (worker, replayer and
 * gateway);
 * test/dashboards.int.test.ts runs each against a real Prometheus scraping
 * a running stack and requires data.
 */
import {
  DashboardBuilder,
  DashboardCursorSync,
  QueryVariableBuilder,
  RowBuilder,
  VariableRefresh,
  VariableSort,
  type Dashboard,
  type DataSourceRef,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { PanelBuilder as BarGaugePanel } from '@grafana/grafana-foundation-sdk/bargauge';
import { BarGaugeDisplayMode, ReduceDataOptionsBuilder, VizOrientation } from '@grafana/grafana-foundation-sdk/common';
import { DataqueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatPanel } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TimeseriesPanel } from '@grafana/grafana-foundation-sdk/timeseries';

/** The datasource deploy/grafana/provisioning/datasources/prometheus.yml provisions. */
export const DATASOURCE: DataSourceRef = { type: 'prometheus', uid: 'prometheus' };

/** One query of a panel: PromQL and its legend. */
interface Query {
  readonly expr: string;
  readonly legend: string;
}

interface PanelSpec {
  readonly title: string;
  readonly description: string;
  readonly unit: string;
  readonly queries: readonly Query[];
  /** Grid width (of 24) and height. */
  readonly w?: number;
  readonly h?: number;
  readonly min?: number;
}

const RATE = '$__rate_interval';

function targets(queries: readonly Query[]): DataqueryBuilder[] {
  return queries.map((q, i) => new DataqueryBuilder().expr(q.expr).legendFormat(q.legend).refId(String.fromCharCode(65 + i)).datasource(DATASOURCE));
}

/** Numbers panel ids 1, 2, ... in the order panels are added, as Grafana expects ids to be unique. */
class Ids {
  #next = 1;
  next(): number {
    return this.#next++;
  }
}

function timeseries(ids: Ids, p: PanelSpec): TimeseriesPanel {
  const panel = new TimeseriesPanel()
    .id(ids.next())
    .title(p.title)
    .description(p.description)
    .datasource(DATASOURCE)
    .unit(p.unit)
    .span(p.w ?? 12)
    .height(p.h ?? 8)
    .fillOpacity(10)
    .lineWidth(1)
    .targets(targets(p.queries));
  return p.min === undefined ? panel : panel.min(p.min);
}

function stat(ids: Ids, p: PanelSpec): StatPanel {
  return new StatPanel()
    .id(ids.next())
    .title(p.title)
    .description(p.description)
    .datasource(DATASOURCE)
    .unit(p.unit)
    .span(p.w ?? 6)
    .height(p.h ?? 4)
    .reduceOptions(new ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false))
    .targets(targets(p.queries));
}

function bars(ids: Ids, p: PanelSpec): BarGaugePanel {
  return new BarGaugePanel()
    .id(ids.next())
    .title(p.title)
    .description(p.description)
    .datasource(DATASOURCE)
    .unit(p.unit)
    .span(p.w ?? 12)
    .height(p.h ?? 8)
    .orientation(VizOrientation.Horizontal)
    .displayMode(BarGaugeDisplayMode.Gradient)
    .reduceOptions(new ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false))
    .targets(targets(p.queries));
}

function row(ids: Ids, title: string): RowBuilder {
  return new RowBuilder(title).id(ids.next());
}

function base(uid: string, title: string, description: string): DashboardBuilder {
  return new DashboardBuilder(title)
    .uid(uid)
    .description(description)
    .tags(['streamcell'])
    .time({ from: 'now-30m', to: 'now' })
    .refresh('10s')
    .timezone('browser')
    .tooltip(DashboardCursorSync.Crosshair)
    .readonly();
}

/** A quantile of a histogram; `selector` (e.g. `{route=~"/v1/.*"}`) narrows the buckets read. */
const quantile = (q: number, metric: string, by: string[] = [], selector = ''): string =>
  `histogram_quantile(${q}, sum by (${['le', ...by].join(', ')}) (rate(${metric}_bucket${selector}[${RATE}])))`;

/** The gateway's API routes: /metrics, /healthz, /readyz and the page left out. */
const API_ROUTES = '{route=~"/v1/.*"}';

/** Events in, forecasts out, latency, batches, lag, the replayer feed, the gateway and the models. */
function overview(): Dashboard {
  const ids = new Ids();
  return base('streamcell-overview', 'streamcell / Overview', 'Throughput, latency, batch size and consumer lag of the workers; the replayer and the gateway feeding them.')
    .withPanel(stat(ids, { title: 'Workers running', description: 'Workers in the running state (ready, consuming).', unit: 'none', queries: [{ expr: 'sum(streamcell_worker_state{state="running"})', legend: 'running' }] }))
    .withPanel(stat(ids, { title: 'Events/s', description: 'Events consumed per second, valid or not.', unit: 'ops', queries: [{ expr: `sum(rate(streamcell_events_total[${RATE}]))`, legend: 'events/s' }] }))
    .withPanel(stat(ids, { title: 'Forecasts/s', description: 'Forecasts published per second.', unit: 'ops', queries: [{ expr: `sum(rate(streamcell_forecasts_total[${RATE}]))`, legend: 'forecasts/s' }] }))
    .withPanel(stat(ids, { title: 'Consumer lag', description: 'Messages between the committed offsets and the ends of the partitions, all topics.', unit: 'none', queries: [{ expr: 'sum(streamcell_consumer_lag_messages)', legend: 'lag' }] }))
    .withRow(row(ids, 'Throughput'))
    .withPanel(timeseries(ids, { title: 'Events consumed', description: 'Events per second by topic, valid or not (dead letters included).', unit: 'ops', min: 0, queries: [{ expr: `sum by (topic) (rate(streamcell_events_total[${RATE}]))`, legend: '{{topic}}' }] }))
    .withPanel(
      timeseries(ids, {
        title: 'Forecasts published',
        description: 'Forecasts per second by model; dead letters per second beside them.',
        unit: 'ops',
        min: 0,
        queries: [
          { expr: `sum by (model) (rate(streamcell_forecasts_total[${RATE}]))`, legend: '{{model}}' },
          { expr: `sum(rate(streamcell_dead_letters_total[${RATE}]))`, legend: 'dead letters' },
        ],
      }),
    )
    .withRow(row(ids, 'Latency'))
    .withPanel(
      timeseries(ids, {
        title: 'Kafka append to forecast',
        description: 'From the Kafka append time of an event to its forecast being acknowledged: the service\'s own latency.',
        unit: 's',
        min: 0,
        queries: [
          { expr: quantile(0.5, 'streamcell_append_to_forecast_seconds'), legend: 'p50' },
          { expr: quantile(0.99, 'streamcell_append_to_forecast_seconds'), legend: 'p99' },
        ],
      }),
    )
    .withPanel(
      timeseries(ids, {
        title: 'Event time to forecast',
        description: 'From the event\'s own time (ts) to its forecast: includes the producer\'s delay. Replays of historical data carry old times and sit in the top bucket.',
        unit: 's',
        min: 0,
        queries: [
          { expr: quantile(0.5, 'streamcell_event_to_forecast_seconds'), legend: 'p50' },
          { expr: quantile(0.99, 'streamcell_event_to_forecast_seconds'), legend: 'p99' },
        ],
      }),
    )
    .withRow(row(ids, 'Batches and lag'))
    .withPanel(
      timeseries(ids, {
        title: 'Events per partition batch',
        description: 'Batch size: larger batches amortise the Redis and Kafka round trips.',
        unit: 'none',
        min: 0,
        queries: [
          { expr: `sum(rate(streamcell_batch_size_events_sum[${RATE}])) / sum(rate(streamcell_batch_size_events_count[${RATE}]))`, legend: 'mean' },
          { expr: quantile(0.5, 'streamcell_batch_size_events'), legend: 'p50' },
          { expr: quantile(0.99, 'streamcell_batch_size_events'), legend: 'p99' },
        ],
      }),
    )
    .withPanel(
      timeseries(ids, {
        title: 'Batches per group',
        description: 'Partition batches that arrived together and went through as one group: one state load, one send and one save for all of them.',
        unit: 'none',
        min: 0,
        queries: [
          { expr: `sum(rate(streamcell_batch_group_batches_sum[${RATE}])) / sum(rate(streamcell_batch_group_batches_count[${RATE}]))`, legend: 'mean' },
          { expr: quantile(0.99, 'streamcell_batch_group_batches'), legend: 'p99' },
        ],
      }),
    )
    .withPanel(timeseries(ids, { title: 'Consumer lag', description: 'Messages not yet committed, by topic.', unit: 'none', min: 0, queries: [{ expr: 'sum by (topic) (streamcell_consumer_lag_messages)', legend: '{{topic}}' }] }))
    .withPanel(
      timeseries(ids, {
        title: 'Kernel time per step job',
        description: 'Time in the recurrent kernel per step job (one per group of batches and model), by model.',
        unit: 's',
        min: 0,
        queries: [{ expr: quantile(0.99, 'streamcell_step_seconds', ['model']), legend: '{{model}} p99' }],
      }),
    )
    .withPanel(
      timeseries(ids, {
        title: 'Worker CPU',
        description: 'CPU seconds per second of each worker process.',
        unit: 'percentunit',
        min: 0,
        queries: [{ expr: `rate(streamcell_worker_process_cpu_seconds_total[${RATE}])`, legend: '{{instance}}' }],
      }),
    )
    .withRow(row(ids, 'Replayer feed'))
    .withPanel(
      timeseries(ids, {
        title: 'Replayer rate',
        description: 'Events the replayer had acknowledged per second, against the rate asked for.',
        unit: 'ops',
        min: 0,
        queries: [
          { expr: `sum(rate(streamcell_replayer_events_sent_total[${RATE}]))`, legend: 'sent' },
          { expr: 'sum(streamcell_replayer_target_events_per_second)', legend: 'target' },
          { expr: 'sum(streamcell_replayer_achieved_events_per_second)', legend: 'achieved (replayer\'s 10 s window)' },
        ],
      }),
    )
    .withPanel(
      timeseries(ids, {
        title: 'Replayer send errors',
        description: 'Events the replayer could not send (dropped after the producer\'s retries).',
        unit: 'ops',
        min: 0,
        queries: [{ expr: `sum(rate(streamcell_replayer_send_errors_total[${RATE}]))`, legend: 'errors/s' }],
      }),
    )
    .withRow(row(ids, 'Gateway'))
    .withPanel(
      timeseries(ids, {
        title: 'Gateway HTTP requests',
        description: 'Requests answered per second by route pattern and status (Prometheus\' own scrapes of /metrics included; a live stream counts once, when it starts).',
        unit: 'reqps',
        min: 0,
        queries: [{ expr: `sum by (route, status) (rate(streamcell_gateway_requests_total[${RATE}]))`, legend: '{{route}} {{status}}' }],
      }),
    )
    .withPanel(
      timeseries(ids, {
        title: 'Gateway request latency',
        description: 'Time to answer an API request (/v1/ routes), p50 and p99 by route; live streams are not timed.',
        unit: 's',
        min: 0,
        queries: [
          { expr: quantile(0.5, 'streamcell_gateway_request_seconds', ['route'], API_ROUTES), legend: '{{route}} p50' },
          { expr: quantile(0.99, 'streamcell_gateway_request_seconds', ['route'], API_ROUTES), legend: '{{route}} p99' },
        ],
      }),
    )
    .withPanel(
      timeseries(ids, {
        title: 'Gateway events',
        description: 'Events per second accepted over HTTP (acknowledged by Kafka), and refused by reason code (nothing produced for them; the worker would have dead-lettered them with the same code).',
        unit: 'ops',
        min: 0,
        queries: [
          { expr: `sum(rate(streamcell_gateway_events_accepted_total[${RATE}]))`, legend: 'accepted' },
          { expr: `sum by (code) (rate(streamcell_gateway_events_rejected_total[${RATE}]))`, legend: 'refused {{code}}' },
        ],
      }),
    )
    .withPanel(
      timeseries(ids, {
        title: 'Gateway produce time',
        description: 'From handing a request\'s events to the producer to Kafka\'s acknowledgement: the part of a POST /v1/events spent waiting for Kafka.',
        unit: 's',
        min: 0,
        queries: [
          { expr: quantile(0.5, 'streamcell_gateway_produce_seconds'), legend: 'p50' },
          { expr: quantile(0.99, 'streamcell_gateway_produce_seconds'), legend: 'p99' },
        ],
      }),
    )
    .withPanel(
      timeseries(ids, {
        title: 'Live subscribers',
        description: 'Server-sent-event subscribers connected to the gateways, and the streams whose recent forecasts they keep for them.',
        unit: 'none',
        min: 0,
        queries: [
          { expr: 'sum(streamcell_gateway_live_clients)', legend: 'subscribers' },
          { expr: 'sum(streamcell_gateway_live_streams)', legend: 'streams tracked' },
        ],
      }),
    )
    .withPanel(
      timeseries(ids, {
        title: 'Live feed',
        description: 'Forecasts per second the gateways read from the forecast topic, and forecasts written to live subscribers.',
        unit: 'ops',
        min: 0,
        queries: [
          { expr: `sum(rate(streamcell_gateway_forecasts_consumed_total[${RATE}]))`, legend: 'read' },
          { expr: `sum(rate(streamcell_gateway_live_messages_total[${RATE}]))`, legend: 'sent to subscribers' },
        ],
      }),
    )
    .withRow(row(ids, 'Models'))
    .withPanel(stat(ids, { title: 'Model versions serving', description: 'Name and version of each model the workers serve.', unit: 'none', w: 12, queries: [{ expr: 'count by (model, version) (streamcell_models_loaded == 1)', legend: '{{model}} v{{version}}' }] }))
    .withPanel(
      stat(ids, {
        title: 'Model load failures',
        // Model names are not known in advance, so the counter cannot start at 0 and increase() would miss a failure at start: the raw count it is.
        description: 'Model versions in MODELS_DIR that could not be loaded (bad manifest or weights), since each worker started.',
        unit: 'none',
        w: 12,
        queries: [{ expr: 'sum by (model) (streamcell_model_load_failures_total)', legend: '{{model}}' }],
      }),
    )
    .build();
}

/** Redis round trips, compare-and-set conflicts, resets and the streams in flight. */
function state(): Dashboard {
  const ids = new Ids();
  return base('streamcell-state', 'streamcell / State', 'The per-stream state in Redis: round-trip times, compare-and-set conflicts, resets and active streams.')
    .withPanel(stat(ids, { title: 'Active streams', description: 'Streams with an event in the last 5 minutes, summed over workers.', unit: 'none', queries: [{ expr: 'sum(streamcell_active_streams)', legend: 'streams' }] }))
    .withPanel(stat(ids, { title: 'Conflicts (range)', description: 'State compare-and-set conflicts over the dashboard\'s time range: another worker wrote the stream (a rebalance).', unit: 'none', queries: [{ expr: 'sum(increase(streamcell_state_conflicts_total[$__range]))', legend: 'conflicts' }] }))
    .withPanel(stat(ids, { title: 'Resets (range)', description: 'States started afresh over the dashboard\'s time range, all reasons.', unit: 'none', queries: [{ expr: 'sum(increase(streamcell_state_resets_total[$__range]))', legend: 'resets' }] }))
    .withPanel(
      stat(ids, {
        title: 'Redis save p99',
        description: 'p99 of the pipelined compare-and-set that saves a batch\'s states.',
        unit: 's',
        queries: [{ expr: `histogram_quantile(0.99, sum by (le) (rate(streamcell_redis_round_trip_seconds_bucket{op="save"}[${RATE}])))`, legend: 'save p99' }],
      }),
    )
    .withRow(row(ids, 'Redis'))
    .withPanel(
      timeseries(ids, {
        title: 'Redis round-trip time',
        description: 'One pipelined load and one pipelined save per group of partition batches; p50 and p99 by operation.',
        unit: 's',
        min: 0,
        queries: [
          { expr: quantile(0.5, 'streamcell_redis_round_trip_seconds', ['op']), legend: '{{op}} p50' },
          { expr: quantile(0.99, 'streamcell_redis_round_trip_seconds', ['op']), legend: '{{op}} p99' },
        ],
      }),
    )
    .withPanel(
      timeseries(ids, {
        title: 'Redis round trips',
        description: 'Round trips per second by operation (two per group of batches handled together when nothing conflicts).',
        unit: 'ops',
        min: 0,
        queries: [{ expr: `sum by (op) (rate(streamcell_redis_round_trip_seconds_count[${RATE}]))`, legend: '{{op}}' }],
      }),
    )
    .withRow(row(ids, 'Consistency'))
    .withPanel(
      timeseries(ids, {
        title: 'Compare-and-set conflicts',
        description: 'Streams whose saved state changed between load and save (another worker wrote them): reloaded and redone. Expected around rebalances only.',
        unit: 'ops',
        min: 0,
        queries: [{ expr: `sum(rate(streamcell_state_conflicts_total[${RATE}]))`, legend: 'conflicts/s' }],
      }),
    )
    .withPanel(
      timeseries(ids, {
        title: 'State resets by reason',
        description: 'States started afresh: reset_flag (the event asked), model_version (a new version), shape, unreadable.',
        unit: 'ops',
        min: 0,
        queries: [{ expr: `sum by (reason) (rate(streamcell_state_resets_total[${RATE}]))`, legend: '{{reason}}' }],
      }),
    )
    .withPanel(
      timeseries(ids, {
        title: 'Redelivered and cross-partition events',
        description: 'Events skipped because the saved state already holds them (redelivery after a crash or rebalance), and events from another partition than the stream last used (a producer not keying by stream).',
        unit: 'ops',
        min: 0,
        queries: [
          { expr: `sum(rate(streamcell_replayed_events_skipped_total[${RATE}]))`, legend: 'skipped (already applied)' },
          { expr: `sum(rate(streamcell_cross_partition_events_total[${RATE}]))`, legend: 'cross-partition' },
        ],
      }),
    )
    .withPanel(timeseries(ids, { title: 'Active streams by model', description: 'Streams with an event in the last 5 minutes, by model, summed over workers.', unit: 'none', min: 0, queries: [{ expr: 'sum by (model) (streamcell_active_streams)', legend: '{{model}}' }] }))
    .build();
}

const MODEL = 'model=~"$model"';
const byModelStep = (metric: string, window: string): string => `sum by (model, step) (rate(${metric}{${MODEL}}[${window}]))`;

/** Online error of the forecasts against naive persistence, by model and horizon step. */
function quality(): Dashboard {
  const ids = new Ids();
  return base('streamcell-quality', 'streamcell / Forecast quality', 'Online mean absolute error of every horizon step against the naive persistence forecast, and the skill 1 - MAE/MAE_naive.')
    .withVariable(
      new QueryVariableBuilder('model')
        .label('Model')
        .datasource(DATASOURCE)
        .query({ qryType: 1, query: 'label_values(streamcell_forecasts_scored_total, model)', refId: 'PrometheusVariableQueryEditor-VariableQuery' })
        .refresh(VariableRefresh.OnTimeRangeChanged)
        .sort(VariableSort.AlphabeticalAsc)
        .multi(true)
        .includeAll(true),
    )
    .withPanel(
      bars(ids, {
        title: 'Skill over the time range',
        description: '1 - MAE/MAE_naive by model and horizon step over the dashboard\'s time range: above 0 the model beats repeating the last value.',
        unit: 'percentunit',
        queries: [{ expr: `1 - sum by (model, step) (increase(streamcell_forecast_abs_error_sum{${MODEL}}[$__range])) / sum by (model, step) (increase(streamcell_naive_abs_error_sum{${MODEL}}[$__range]))`, legend: '{{model}} +{{step}}' }],
      }),
    )
    .withPanel(
      timeseries(ids, {
        title: 'Skill (1 - MAE / MAE naive)',
        description: 'By model and horizon step; above 0 the model beats persistence, below 0 persistence wins (StreamcellForecastWorseThanNaive fires after 30 minutes).',
        unit: 'percentunit',
        queries: [{ expr: `1 - ${byModelStep('streamcell_forecast_abs_error_sum', RATE)} / ${byModelStep('streamcell_naive_abs_error_sum', RATE)}`, legend: '{{model}} +{{step}}' }],
      }),
    )
    .withPanel(
      timeseries(ids, {
        title: 'Mean absolute error by step',
        description: 'MAE of the forecasts by model and horizon step (mean over the targets, in their units).',
        unit: 'none',
        min: 0,
        queries: [{ expr: `${byModelStep('streamcell_forecast_abs_error_sum', RATE)} / ${byModelStep('streamcell_forecasts_scored_total', RATE)}`, legend: '{{model}} +{{step}}' }],
      }),
    )
    .withPanel(
      timeseries(ids, {
        title: 'Error against naive by step',
        description: 'MAE of the model divided by MAE of persistence, by model and step: below 1 is better than naive.',
        unit: 'none',
        min: 0,
        queries: [{ expr: `${byModelStep('streamcell_forecast_abs_error_sum', RATE)} / ${byModelStep('streamcell_naive_abs_error_sum', RATE)}`, legend: '{{model}} +{{step}}' }],
      }),
    )
    .withPanel(
      timeseries(ids, {
        title: 'MAE by target: model and naive',
        description: 'Mean absolute error by model, step and target, of the model and of persistence.',
        unit: 'none',
        min: 0,
        w: 24,
        queries: [
          { expr: `sum by (model, step, target) (rate(streamcell_forecast_abs_error_sum{${MODEL}}[${RATE}])) / sum by (model, step, target) (rate(streamcell_forecasts_scored_total{${MODEL}}[${RATE}]))`, legend: '{{model}} {{target}} +{{step}}' },
          { expr: `sum by (model, step, target) (rate(streamcell_naive_abs_error_sum{${MODEL}}[${RATE}])) / sum by (model, step, target) (rate(streamcell_forecasts_scored_total{${MODEL}}[${RATE}]))`, legend: '{{model}} {{target}} +{{step}} naive' },
        ],
      }),
    )
    .withPanel(
      timeseries(ids, {
        title: 'Forecasts scored',
        description: 'One-step forecasts scored against their actual per second, by model and target.',
        unit: 'ops',
        min: 0,
        queries: [{ expr: `sum by (model, target) (rate(streamcell_forecasts_scored_total{${MODEL}, step="1"}[${RATE}]))`, legend: '{{model}} {{target}}' }],
      }),
    )
    .build();
}

/** Dead letters by code. */
function deadLetters(): Dashboard {
  const ids = new Ids();
  return base('streamcell-dead-letters', 'streamcell / Dead letters', 'Events refused by the workers, by reason code; the dead letters themselves are on <events topic>.dlq with the code in a header.')
    .withPanel(stat(ids, { title: 'Dead letters (range)', description: 'Dead letters over the dashboard\'s time range.', unit: 'none', queries: [{ expr: 'sum(increase(streamcell_dead_letters_total[$__range]))', legend: 'dead letters' }] }))
    .withPanel(
      stat(ids, {
        title: 'Share of events',
        description: 'Dead letters as a share of consumed events (StreamcellDeadLetterRate fires above 1% for 10 minutes).',
        unit: 'percentunit',
        queries: [{ expr: `sum(rate(streamcell_dead_letters_total[${RATE}])) / sum(rate(streamcell_events_total[${RATE}]))`, legend: 'share' }],
      }),
    )
    .withPanel(
      timeseries(ids, {
        title: 'Dead letters by code',
        description: 'Dead letters per second by reason code: malformed_json, schema, wrong_dimension, unknown_feature, non_finite, stream_id_invalid, unknown_model, out_of_order, too_large.',
        unit: 'ops',
        min: 0,
        w: 24,
        queries: [{ expr: `sum by (code) (rate(streamcell_dead_letters_total[${RATE}]))`, legend: '{{code}}' }],
      }),
    )
    .withPanel(
      bars(ids, {
        title: 'Dead letters by code (range)',
        description: 'Counts by code over the dashboard\'s time range.',
        unit: 'none',
        w: 24,
        queries: [{ expr: 'sum by (code) (increase(streamcell_dead_letters_total[$__range]))', legend: '{{code}}' }],
      }),
    )
    .build();
}

/** Every dashboard, by the file name it is written to. */
export function buildDashboards(): { readonly file: string; readonly dashboard: Dashboard }[] {
  return [
    { file: 'overview.json', dashboard: overview() },
    { file: 'state.json', dashboard: state() },
    { file: 'quality.json', dashboard: quality() },
    { file: 'dead-letters.json', dashboard: deadLetters() },
  ];
}

/** The JSON text of a dashboard as committed: two-space indent, trailing newline. */
export function dashboardJson(dashboard: Dashboard): string {
  return `${JSON.stringify(dashboard, null, 2)}\n`;
}

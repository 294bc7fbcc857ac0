/**
 * The end-of-run checks shared by the crash and rebalance tests: whatever
 * happened to the workers, the state in Redis is exactly that of one
 * uninterrupted run, and the forecasts topic holds at least one forecast per
 * source event, duplicates byte-identical (and identical to the reference's).
 */
import { expect } from 'vitest';
import { IDEMPOTENCY_HEADER, type ForecastMessage } from '@streamcell/protocol';
import { decodeRecord, fnv1a32, stateKey } from '@streamcell/state';
import type { TestEnv } from '../../../../test/support/services.ts';
import { committedOffsets, readTopic, type ReadMessage } from './kafka.ts';
import { MODEL, countKeys, loadWeatherModel, offlinePredict, readStates, referenceRun, sameBits, type StreamPlan } from './streams.ts';

/** What a run left behind, for the test's summary. */
export interface RunSummary {
  events: number;
  forecasts: number;
  /** Source offsets with more than one forecast (replays after a crash or rebalance). */
  duplicatedOffsets: number;
  /** Forecasts beyond the first per source offset. */
  extraForecasts: number;
}

function sample<T>(list: readonly T[], n = 5): string {
  return `${list.length}${list.length > 0 ? `, e.g. ${JSON.stringify(list.slice(0, n))}` : ''}`;
}

/**
 * Reads the topics back and checks them and Redis against an uninterrupted
 * in-memory run of the same events and against `streamcell predict`.
 */
export async function verifyAgainstReference(env: TestEnv, topics: { events: string; forecasts: string }, plans: readonly StreamPlan[]): Promise<RunSummary> {
  const [events, published, dlq] = await Promise.all([
    readTopic(env.kafka, env.admin, topics.events),
    readTopic(env.kafka, env.admin, topics.forecasts, 120_000),
    readTopic(env.kafka, env.admin, `${topics.events}.dlq`),
  ]);
  const totalEvents = plans.reduce((n, p) => n + p.rows.length, 0);
  expect(events, 'every event produced is in the events topic').toHaveLength(totalEvents);
  expect(dlq.map((m) => m.headers['streamcell-dlq-code']), 'no dead letters for good events').toEqual([]);

  const keys = plans.map((p) => stateKey(env.keyPrefix, MODEL, p.stream));
  const reference = await referenceRun(events, { stateKeyPrefix: env.keyPrefix, forecastsTopic: topics.forecasts }, keys);
  expect(reference.forecasts.size).toBe(totalEvents);

  // State: byte for byte the uninterrupted run's record (h, c, scoring history, offsets, steps).
  const states = await readStates(env.redis, keys);
  const stateMismatch: string[] = [];
  const missingState: string[] = [];
  for (const k of keys) {
    const got = states.get(k) ?? null;
    const want = reference.records.get(k) ?? null;
    if (got === null) missingState.push(k);
    else if (want === null || !got.equals(want)) stateMismatch.push(k);
  }
  expect(missingState, `streams without state in Redis: ${sample(missingState)}`).toEqual([]);
  if (stateMismatch.length > 0) {
    const k = stateMismatch[0]!;
    const got = decodeRecord(states.get(k)!);
    const want = decodeRecord(reference.records.get(k)!);
    const brief = (r: ReturnType<typeof decodeRecord>): unknown => (typeof r === 'string' ? r : { steps: r.steps, partition: r.partition, offset: r.offset, h0: r.state[0] });
    expect.fail(`state differs from the uninterrupted run for ${sample(stateMismatch)}; first: got ${JSON.stringify(brief(got))}, want ${JSON.stringify(brief(want))}`);
  }
  expect(await countKeys(env.redis, `${env.keyPrefix}*`), 'no other keys under the prefix').toBe(keys.length);

  // And independently of the pipeline code: h and c are what predict --state ends with.
  const model = await loadWeatherModel();
  const offlineMismatch: string[] = [];
  for (const [i, plan] of plans.entries()) {
    const rec = decodeRecord(states.get(keys[i]!)!);
    const offline = await offlinePredict(model, plan.rows);
    if (typeof rec === 'string' || rec.steps !== plan.rows.length || !sameBits(rec.state, offline.finalState)) offlineMismatch.push(plan.stream);
  }
  expect(offlineMismatch, `streams whose state is not predict --state's: ${sample(offlineMismatch)}`).toEqual([]);

  // Forecasts: every source offset at least once; every copy byte-identical (and equal to the reference's).
  const byKey = new Map<string, ReadMessage[]>();
  const headerMismatch: string[] = [];
  for (const m of published) {
    const key = m.headers[IDEMPOTENCY_HEADER] ?? '(no header)';
    const f = JSON.parse(m.value!.toString()) as ForecastMessage;
    if (key !== `${f.source.topic}/${f.source.partition}/${f.source.offset}`) headerMismatch.push(`${m.partition}/${m.offset}`);
    const list = byKey.get(key) ?? [];
    list.push(m);
    byKey.set(key, list);
  }
  expect(headerMismatch, `forecasts whose idempotency header is not their source: ${sample(headerMismatch)}`).toEqual([]);
  const missing = [...reference.forecasts.keys()].filter((k) => !byKey.has(k));
  expect(missing, `source offsets without a forecast: ${sample(missing)}`).toEqual([]);
  const unexpected = [...byKey.keys()].filter((k) => !reference.forecasts.has(k));
  expect(unexpected, `forecasts for offsets that are not events: ${sample(unexpected)}`).toEqual([]);
  const differingCopies: string[] = [];
  const notReference: string[] = [];
  let duplicatedOffsets = 0;
  for (const [k, copies] of byKey) {
    if (copies.length > 1) duplicatedOffsets += 1;
    if (copies.some((c) => !c.value!.equals(copies[0]!.value!) || c.key?.toString() !== copies[0]!.key?.toString())) differingCopies.push(k);
    if (!copies[0]!.value!.equals(reference.forecasts.get(k)!)) notReference.push(k);
  }
  expect(differingCopies, `source offsets whose forecasts differ between copies: ${sample(differingCopies)}`).toEqual([]);
  expect(notReference, `forecasts that differ from the uninterrupted run's: ${sample(notReference)}`).toEqual([]);
  return { events: events.length, forecasts: published.length, duplicatedOffsets, extraForecasts: published.length - byKey.size };
}

/**
 * "Never commit past an unsaved step", checked at one moment: for every
 * stream, each of its events below its partition's committed offset is in
 * its saved state, and a saved state is exactly predict --state's over the
 * events it says it holds (the last of which it names). Returns how many
 * streams have a state.
 */
export async function expectCommittedIsSaved(env: TestEnv, group: string, topic: string, plans: readonly StreamPlan[]): Promise<number> {
  const commits = await committedOffsets(env.admin, group, topic);
  const events = await readTopic(env.kafka, env.admin, topic);
  const byStream = new Map<string, ReadMessage[]>();
  for (const e of events) {
    const s = e.key!.toString();
    byStream.set(s, [...(byStream.get(s) ?? []), e]);
  }
  const keys = plans.map((p) => stateKey(env.keyPrefix, MODEL, p.stream));
  const states = await readStates(env.redis, keys);
  const model = await loadWeatherModel();
  const unsavedBelowCommit: string[] = [];
  const inconsistent: string[] = [];
  let saved = 0;
  for (const [i, plan] of plans.entries()) {
    const mine = byStream.get(plan.stream) ?? [];
    const partition = mine[0]?.partition ?? -1;
    const commit = commits.get(partition) ?? -1n;
    const committedCount = mine.filter((e) => BigInt(e.offset) < commit).length;
    const raw = states.get(keys[i]!) ?? null;
    const rec = raw === null ? null : decodeRecord(raw);
    if (typeof rec === 'string') throw new Error(`state of ${plan.stream}: ${rec}`);
    const applied = rec?.steps ?? 0;
    if (applied < committedCount) unsavedBelowCommit.push(`${plan.stream}: ${committedCount} events below commit ${commit} of partition ${partition}, ${applied} in the state`);
    if (rec === null) continue;
    saved += 1;
    const offline = await offlinePredict(model, plan.rows.slice(0, rec.steps));
    const last = mine[rec.steps - 1];
    if (!sameBits(rec.state, offline.finalState) || last === undefined || rec.offset !== Number(last.offset) || rec.partition !== partition || rec.topicHash !== fnv1a32(topic)) {
      inconsistent.push(plan.stream);
    }
  }
  expect(unsavedBelowCommit, `streams with committed events missing from their state: ${sample(unsavedBelowCommit)}`).toEqual([]);
  expect(inconsistent, `streams whose saved state is not predict --state over the events it names: ${sample(inconsistent)}`).toEqual([]);
  return saved;
}

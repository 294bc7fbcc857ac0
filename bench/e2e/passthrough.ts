/**
 * The floor of bench/e2e: consume, produce the same bytes, commit. No state,
 * no model, and the same source and sink (client settings) as the worker, so
 * the ratio to it shows what the service itself costs.
 *   PASS_IN, PASS_OUT, PASS_GROUP, PASS_CONCURRENCY, KAFKA_BROKERS from the environment;
 *   KAFKA_FETCH_MIN_BYTES, KAFKA_FETCH_MAX_WAIT_MS and KAFKA_CONSUMERS as the worker reads them.
 */
import { KafkaSink, KafkaSource, SourceSet } from '@streamcell/streams';

const brokers = process.env.KAFKA_BROKERS!.split(',');
const sink = new KafkaSink({ brokers, clientId: 'streamcell-passthrough' });
await sink.connect();
// The worker's fetch settings when they are set (unset, both keep KafkaSource's defaults).
const { KAFKA_FETCH_MIN_BYTES: minBytes, KAFKA_FETCH_MAX_WAIT_MS: maxWait, KAFKA_CONSUMERS: consumerCount = '1' } = process.env;
const consumer = (i: number): KafkaSource => new KafkaSource({
  brokers,
  clientId: `streamcell-passthrough-${i + 1}`,
  groupId: process.env.PASS_GROUP!,
  topics: [process.env.PASS_IN!],
  fromBeginning: true,
  partitionsConsumedConcurrently: Number(process.env.PASS_CONCURRENCY ?? '1'),
  ...(minBytes === undefined ? {} : { minBytes: Number(minBytes) }),
  ...(maxWait === undefined ? {} : { maxWaitTimeInMs: Number(maxWait) }),
});
// Several consumers in one group, as the worker runs them with KAFKA_CONSUMERS.
const source = new SourceSet(Array.from({ length: Number(consumerCount) }, (_, i) => consumer(i)));
await source.start(async (batch, control) => {
  await sink.send([{ topic: process.env.PASS_OUT!, messages: batch.messages.map((m) => ({ key: m.key, value: m.value })) }]);
  await control.commit((BigInt(batch.messages.at(-1)!.offset) + 1n).toString());
});
const stop = (): void => {
  void source.stop().then(() => sink.disconnect()).then(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);

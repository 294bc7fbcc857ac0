/**
 * Exits 0 once the broker at KAFKA_BROKERS answers a kafkajs admin client: it
 * describes the cluster, creates a topic and deletes it again. That is the
 * readiness deploy/local/services.sh promises, not merely an open port.
 *
 *   node deploy/local/kafka-ready.ts [--timeout SECONDS]
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';

const { values } = parseArgs({ options: { timeout: { type: 'string', default: '60' } } });
const deadline = Date.now() + Number(values.timeout) * 1000;
const brokers = (process.env.KAFKA_BROKERS ?? '').split(',').filter(Boolean);
if (brokers.length === 0) {
  console.error('kafka-ready: KAFKA_BROKERS is not set');
  process.exit(2);
}

async function probe(): Promise<string> {
  const kafka = new Kafka({
    clientId: 'streamcell-ready',
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 2000,
    retry: { retries: 0 },
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const cluster = await admin.describeCluster();
    const topic = `streamcell-ready-${randomUUID()}`;
    await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
    await admin.deleteTopics({ topics: [topic] });
    return `cluster ${cluster.clusterId}, ${cluster.brokers.length} broker(s), controller ${cluster.controller}`;
  } finally {
    await admin.disconnect();
  }
}

let lastError = '';
while (Date.now() < deadline) {
  try {
    console.log(`kafka-ready: ${await probe()}`);
    process.exit(0);
  } catch (err) {
    lastError = err instanceof Error ? err.message : String(err);
    await new Promise((r) => setTimeout(r, 1000));
  }
}
console.error(`kafka-ready: ${brokers.join(',')} not ready within ${values.timeout}s: ${lastError}`);
process.exit(1);

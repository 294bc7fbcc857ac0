export type {
  BatchControl,
  BatchHandler,
  InboundBatch,
  InboundMessage,
  OutboundMessage,
  OutboundRecords,
  PartitionLag,
  SendOptions,
  Sink,
  SinkRecords,
  Source,
} from './types.ts';
export { SendWithdrawnError } from './types.ts';
export { KafkaSource } from './kafka-source.ts';
export type { KafkaSourceOptions } from './kafka-source.ts';
export { KafkaSink } from './kafka-sink.ts';
export { SourceSet } from './source-set.ts';
export type { KafkaSinkOptions } from './kafka-sink.ts';
export { ensureTopics, missingTopics } from './topics.ts';
export type { EnsureTopicsOptions, EnsureTopicsResult, TopicSpec } from './topics.ts';
export { checkBrokers, findCause, isGroupChange } from './kafka-client.ts';
export type { KafkaConnectionOptions } from './kafka-client.ts';
export { MemoryLog } from './memory-log.ts';
export type { AppendMessage, AppendResult, MemoryLogOptions, MemorySourceOptions } from './memory-log.ts';
export { createMurmur2Partitioner, murmur2, partitionForKey } from './murmur2.ts';
export { PackedMessageWriter, isPacked, messageCount, unpackMessages } from './packed.ts';
export type { PackedBytes, PackedHeader, PackedMessages } from './packed.ts';
export { silentLogger } from './logger.ts';
export { sendAsGroup } from './group-request.ts';
export type { GroupMember } from './group-request.ts';
export type { KafkaLogLevel, StreamsLogger } from './logger.ts';

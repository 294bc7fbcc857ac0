export { REDACTED_PATHS, createLogger, redactUrl } from './logger.ts';
export type { Logger, LoggerSettings } from './logger.ts';
export { STATE_RESET_REASONS, createGatewayMetrics, createWorkerMetrics } from './metrics.ts';
export type { GatewayMetrics, WorkerMetrics } from './metrics.ts';
export { createReplayerMetrics } from './replayer-metrics.ts';
export type { ReplayerMetrics } from './replayer-metrics.ts';
export { startHealthServer } from './health.ts';
export type { HealthProbe, HealthServer } from './health.ts';

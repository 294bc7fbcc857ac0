export { REDACTED_PATHS, createLogger, redactUrl } from './logger.ts';
export type { Logger, LoggerSettings } from './logger.ts';
export { createGatewayMetrics, createWorkerMetrics } from './metrics.ts';
export type { GatewayMetrics, WorkerMetrics } from './metrics.ts';
export { startHealthServer } from './health.ts';
export type { HealthProbe, HealthServer } from './health.ts';

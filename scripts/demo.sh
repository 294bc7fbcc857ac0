#!/usr/bin/env bash
# The main job: see services/worker/src/demo.ts. Embedded (one process) unless
# KAFKA_BROKERS and REDIS_URL are set.
set -euo pipefail
cd "$(dirname "$0")/.."
exec node services/worker/src/demo.ts "$@"

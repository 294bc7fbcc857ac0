#!/usr/bin/env bash
# Real Kafka and Redis as plain processes, for machines without Docker and CI.
#
#   deploy/local/services.sh up       start (idempotent); prints KAFKA_BROKERS and REDIS_URL
#   deploy/local/services.sh down     stop what `up` started (data is kept)
#   deploy/local/services.sh status   what is running, exit 1 when something is not
#   deploy/local/services.sh env      print the export lines only (for eval)
#   deploy/local/services.sh reset    down, then delete the data
#
# Settings (environment):
#   KAFKA_VERSION   3.9 (default, Apache Kafka 3.9.1) or 4.1 (Apache Kafka 4.1.2)
#   KAFKA_PORT      broker port on 127.0.0.1 (default 39092; the controller uses +1)
#   REDIS_URL       an existing Redis to use when it answers; otherwise a
#                   redis-server is started on 127.0.0.1:${LOCAL_REDIS_PORT:-36379}
#   STREAMCELL_LOCAL_DIR  where data, logs and pid files go (default <repo>/.local)
#
# Kafka is one KRaft node that is broker and controller, from the Maven Central
# jars (deploy/local/kafka/pom-*.xml), cached in ~/.cache/streamcell between runs.
# Logs: $STREAMCELL_LOCAL_DIR/logs/{kafka-<version>,redis}.log
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../../scripts/env.sh
. "$HERE/../../scripts/env.sh"
ROOT="$STREAMCELL_ROOT"

KAFKA_VERSION="${KAFKA_VERSION:-3.9}"
case "$KAFKA_VERSION" in
  3.9) KAFKA_FULL=3.9.1 ;;
  4.1) KAFKA_FULL=4.1.2 ;;
  *) sc_log "KAFKA_VERSION must be 3.9 or 4.1, got '$KAFKA_VERSION'"; exit 2 ;;
esac
KAFKA_PORT="${KAFKA_PORT:-39092}"
CONTROLLER_PORT=$((KAFKA_PORT + 1))
LOCAL_REDIS_PORT="${LOCAL_REDIS_PORT:-36379}"
LOCAL_DIR="${STREAMCELL_LOCAL_DIR:-$ROOT/.local}"
LOG_DIR="$LOCAL_DIR/logs"
RUN_DIR="$LOCAL_DIR/run"
CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/streamcell"
JARS="$CACHE_DIR/kafka-$KAFKA_FULL/libs"
KAFKA_DATA="$LOCAL_DIR/kafka-$KAFKA_FULL"
KAFKA_PID="$RUN_DIR/kafka.pid"
KAFKA_VERSION_FILE="$RUN_DIR/kafka.version"
REDIS_PID="$RUN_DIR/redis.pid"
REDIS_URL_FILE="$RUN_DIR/redis.url"
KAFKA_BROKERS_LOCAL="127.0.0.1:$KAFKA_PORT"

mkdir -p "$LOG_DIR" "$RUN_DIR"

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

ensure_node_modules() {
  if [ ! -d "$ROOT/node_modules/kafkajs" ]; then
    sc_log "installing the locked dependencies (pnpm install)"
    (cd "$ROOT" && pnpm install --frozen-lockfile --reporter=silent) >&2
  fi
}

fetch_kafka_jars() {
  if [ -f "$JARS/.complete" ]; then return; fi
  command -v mvn >/dev/null || { sc_log "Maven (mvn) is needed to fetch the Kafka broker jars"; exit 1; }
  command -v java >/dev/null || { sc_log "Java 17+ is needed to run the Kafka broker"; exit 1; }
  sc_log "fetching Apache Kafka $KAFKA_FULL jars from Maven Central into $JARS"
  rm -rf "$JARS" && mkdir -p "$JARS"
  mvn -q -B -f "$HERE/kafka/pom-$KAFKA_VERSION.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$JARS" >"$LOG_DIR/maven-kafka-$KAFKA_FULL.log" 2>&1 || {
    sc_log "Maven could not fetch the Kafka jars; see $LOG_DIR/maven-kafka-$KAFKA_FULL.log"; exit 1; }
  touch "$JARS/.complete"
}

write_kafka_config() {
  mkdir -p "$KAFKA_DATA/data"
  cat >"$KAFKA_DATA/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$KAFKA_DATA/data
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=12
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
delete.topic.enable=true
log.retention.hours=24
EOF
  # Kafka 3.9 logs through reload4j, 4.x through log4j2: give each its file.
  cat >"$KAFKA_DATA/log4j.properties" <<EOF
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=$LOG_DIR/kafka-$KAFKA_FULL.server.log
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
EOF
  cat >"$KAFKA_DATA/log4j2.properties" <<EOF
appender.file.type=File
appender.file.name=file
appender.file.fileName=$LOG_DIR/kafka-$KAFKA_FULL.server.log
appender.file.layout.type=PatternLayout
appender.file.layout.pattern=[%d] %p %m (%c)%n
rootLogger.level=INFO
rootLogger.appenderRef.file.ref=file
EOF
}

# The same JVM flags for the storage tool and the broker.
kafka_java_args() {
  KAFKA_JAVA_ARGS=(-Xms256m -Xmx768m -XX:+UseG1GC -Djava.awt.headless=true
    "-Dlog4j.configuration=file:$KAFKA_DATA/log4j.properties"
    "-Dlog4j2.configurationFile=$KAFKA_DATA/log4j2.properties"
    -cp "$JARS/*")
}

# Progress goes to stderr: stdout of `up` is only the export lines, for eval.
kafka_ready() {
  (cd "$ROOT" && KAFKA_BROKERS="$KAFKA_BROKERS_LOCAL" node deploy/local/kafka-ready.ts "$@") >&2
}

kafka_up() {
  if alive "$KAFKA_PID"; then
    local running; running="$(cat "$KAFKA_VERSION_FILE" 2>/dev/null || echo unknown)"
    if [ "$running" != "$KAFKA_FULL" ]; then
      sc_log "Kafka $running is running; run 'down' before starting $KAFKA_FULL"; exit 1
    fi
    kafka_ready --timeout 60
    return
  fi
  if port_in_use "$KAFKA_PORT" || port_in_use "$CONTROLLER_PORT"; then
    sc_log "port $KAFKA_PORT or $CONTROLLER_PORT is taken by another process; set KAFKA_PORT"; exit 1
  fi
  fetch_kafka_jars
  write_kafka_config
  local cluster_file="$KAFKA_DATA/cluster.id"
  # A fixed id per data folder keeps `up` after `down` on the same log.
  kafka_java_args
  [ -f "$cluster_file" ] || java "${KAFKA_JAVA_ARGS[@]}" kafka.tools.StorageTool random-uuid 2>>"$LOG_DIR/kafka-$KAFKA_FULL.log" | tail -n 1 >"$cluster_file"
  java "${KAFKA_JAVA_ARGS[@]}" kafka.tools.StorageTool format -t "$(cat "$cluster_file")" \
    -c "$KAFKA_DATA/server.properties" --ignore-formatted >>"$LOG_DIR/kafka-$KAFKA_FULL.log" 2>&1 || {
    sc_log "formatting Kafka storage failed; see $LOG_DIR/kafka-$KAFKA_FULL.log"; exit 1; }
  sc_log "starting Apache Kafka $KAFKA_FULL (KRaft) on $KAFKA_BROKERS_LOCAL; log $LOG_DIR/kafka-$KAFKA_FULL.server.log"
  nohup java "${KAFKA_JAVA_ARGS[@]}" kafka.Kafka "$KAFKA_DATA/server.properties" \
    >>"$LOG_DIR/kafka-$KAFKA_FULL.log" 2>&1 </dev/null &
  echo $! >"$KAFKA_PID"
  echo "$KAFKA_FULL" >"$KAFKA_VERSION_FILE"
  ensure_node_modules
  if ! kafka_ready --timeout 120; then
    sc_log "Kafka did not become ready; last lines of its log:"
    tail -n 20 "$LOG_DIR/kafka-$KAFKA_FULL.log" >&2 || true
    tail -n 20 "$LOG_DIR/kafka-$KAFKA_FULL.server.log" >&2 || true
    exit 1
  fi
}

redis_answers() {
  local url="$1"
  (cd "$ROOT" && REDIS_URL="$url" node -e '
    const net = require("node:net");
    const u = new URL(process.env.REDIS_URL);
    const s = net.connect(Number(u.port || 6379), u.hostname || "127.0.0.1");
    const done = (ok) => { s.destroy(); process.exit(ok ? 0 : 1); };
    s.setTimeout(2000, () => done(false));
    s.on("error", () => done(false));
    s.on("connect", () => {
      const auth = u.password ? `AUTH ${decodeURIComponent(u.username || "default")} ${decodeURIComponent(u.password)}\r\n` : "";
      s.write(auth + "PING\r\n");
    });
    s.on("data", (d) => { if (d.toString().includes("+PONG")) done(true); else if (d.toString().startsWith("-")) done(false); });
  ' 2>/dev/null)
}

redis_up() {
  if [ -n "${REDIS_URL:-}" ] && redis_answers "$REDIS_URL"; then
    echo "$REDIS_URL" >"$REDIS_URL_FILE"
    return
  fi
  [ -n "${REDIS_URL:-}" ] && sc_log "REDIS_URL=$REDIS_URL does not answer; starting a local redis-server instead"
  local url="redis://127.0.0.1:$LOCAL_REDIS_PORT"
  if alive "$REDIS_PID" && redis_answers "$url"; then
    echo "$url" >"$REDIS_URL_FILE"
    return
  fi
  if ! command -v redis-server >/dev/null; then
    sc_log "redis-server missing; installing Debian's redis-server"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server) >"$LOG_DIR/apt-redis.log" 2>&1 || {
      sc_log "could not install redis-server; see $LOG_DIR/apt-redis.log"; exit 1; }
  fi
  if port_in_use "$LOCAL_REDIS_PORT"; then
    sc_log "port $LOCAL_REDIS_PORT is taken by another process; set LOCAL_REDIS_PORT"; exit 1
  fi
  mkdir -p "$LOCAL_DIR/redis"
  redis-server --bind 127.0.0.1 --port "$LOCAL_REDIS_PORT" --daemonize yes \
    --pidfile "$REDIS_PID" --dir "$LOCAL_DIR/redis" --appendonly yes --save "" \
    --auto-aof-rewrite-min-size 1gb \
    --logfile "$LOG_DIR/redis.log" >/dev/null
  for _ in $(seq 1 50); do
    if redis_answers "$url"; then echo "$url" >"$REDIS_URL_FILE"; return; fi
    sleep 0.1
  done
  sc_log "redis-server did not answer on $url; see $LOG_DIR/redis.log"; exit 1
}

print_env() {
  echo "export KAFKA_BROKERS=$KAFKA_BROKERS_LOCAL"
  echo "export REDIS_URL=$(cat "$REDIS_URL_FILE")"
}

cmd_up() {
  ensure_node_modules
  redis_up
  kafka_up
  print_env
}

stop_pid() {
  local file="$1" name="$2"
  if alive "$file"; then
    local pid; pid="$(cat "$file")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
      sc_log "$name did not stop within 20 s; killing it"; kill -9 "$pid" 2>/dev/null || true
    fi
    sc_log "$name stopped"
  fi
  rm -f "$file"
}

cmd_down() {
  stop_pid "$KAFKA_PID" "Kafka"
  rm -f "$KAFKA_VERSION_FILE"
  stop_pid "$REDIS_PID" "redis-server"
  rm -f "$REDIS_URL_FILE"
}

cmd_status() {
  local ok=0
  if alive "$KAFKA_PID"; then
    echo "kafka: running $(cat "$KAFKA_VERSION_FILE" 2>/dev/null) pid $(cat "$KAFKA_PID") on $KAFKA_BROKERS_LOCAL"
  else
    echo "kafka: stopped"; ok=1
  fi
  if [ -f "$REDIS_URL_FILE" ] && redis_answers "$(cat "$REDIS_URL_FILE")"; then
    local how="external"; alive "$REDIS_PID" && how="local pid $(cat "$REDIS_PID")"
    echo "redis: running ($how) at $(cat "$REDIS_URL_FILE")"
  else
    echo "redis: stopped"; ok=1
  fi
  echo "logs: $LOG_DIR"
  return $ok
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  env) [ -f "$REDIS_URL_FILE" ] && alive "$KAFKA_PID" || { sc_log "services are not up; run: $0 up"; exit 1; }; print_env ;;
  reset) cmd_down; rm -rf "$LOCAL_DIR"/kafka-* "$LOCAL_DIR/redis"; sc_log "data deleted" ;;
  *) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac

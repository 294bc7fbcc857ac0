# Sourced by ./run and .ci/run. Makes sure Node >= 24 and the pinned pnpm are on
# PATH, without touching the system: when the machine's Node is older, the
# node@24 package from the npm registry (it carries the binary) goes into
# .tools/, and pnpm too. Idempotent and quiet when everything is in place.
# Callers set their own shell options; this file only defines and exports.

STREAMCELL_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export STREAMCELL_ROOT
TOOLS="$STREAMCELL_ROOT/.tools"
NODE_MAJOR_WANTED=24
PNPM_VERSION="$(sed -n 's/.*"packageManager": *"pnpm@\([^"]*\)".*/\1/p' "$STREAMCELL_ROOT/package.json")"

sc_log() { printf '[streamcell] %s\n' "$*" >&2; }

node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

if [ -x "$TOOLS/node/node_modules/node/bin/node" ]; then
  export PATH="$TOOLS/node/node_modules/node/bin:$PATH"
fi
if ! command -v node >/dev/null 2>&1 || [ "$(node_major node)" -lt "$NODE_MAJOR_WANTED" ]; then
  command -v npm >/dev/null 2>&1 || { sc_log "need npm (any Node.js) to fetch Node $NODE_MAJOR_WANTED; install nodejs first"; exit 1; }
  sc_log "Node $(node --version 2>/dev/null || echo none) is older than $NODE_MAJOR_WANTED; installing node@$NODE_MAJOR_WANTED into .tools/node"
  mkdir -p "$TOOLS/node"
  npm install --prefix "$TOOLS/node" --no-save --no-audit --no-fund --loglevel=error "node@$NODE_MAJOR_WANTED" >&2
  export PATH="$TOOLS/node/node_modules/node/bin:$PATH"
  [ "$(node_major node)" -ge "$NODE_MAJOR_WANTED" ] || { sc_log "node@$NODE_MAJOR_WANTED did not install a working binary"; exit 1; }
fi

if [ -x "$TOOLS/pnpm/node_modules/.bin/pnpm" ]; then
  export PATH="$TOOLS/pnpm/node_modules/.bin:$PATH"
fi
if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm --version 2>/dev/null)" != "$PNPM_VERSION" ]; then
  sc_log "installing pnpm@$PNPM_VERSION into .tools/pnpm"
  mkdir -p "$TOOLS/pnpm"
  npm install --prefix "$TOOLS/pnpm" --no-save --no-audit --no-fund --loglevel=error "pnpm@$PNPM_VERSION" >&2
  export PATH="$TOOLS/pnpm/node_modules/.bin:$PATH"
fi

# kafkajs 2.2.4 computes a negative setTimeout delay in its request queue on
# Node 24, which clamps it to 1 ms (the intended behaviour) but prints a
# TimeoutNegativeWarning on every client (kafkajs issue #1751, unreleased fix).
case " ${NODE_OPTIONS:-} " in
  *TimeoutNegativeWarning*) ;;
  *) export NODE_OPTIONS="${NODE_OPTIONS:+$NODE_OPTIONS }--disable-warning=TimeoutNegativeWarning" ;;
esac

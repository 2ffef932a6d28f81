#!/usr/bin/env bash
# make flood: how many creates a second the local stack accepts under a
# flood (64 clients, quotas and per-caller limits off, Suno slower than
# demand), beside the seed's route (scripts/seedroute: Express,
# jsonwebtoken, BullMQ on Redis) on the same machine, in turns: the seed as
# written, the seed with its JWT key made once (SEED_KEY_OBJECT=1), then the
# stack, ROUNDS times (default 3). Run it on a quiet machine.
#
# Needs redis-server (installed from Debian's packages when missing and
# this is root) and Node.js with npm.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-15s}
BUILD=.build/flood
mkdir -p "$BUILD"

if ! command -v redis-server >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get install -y -qq redis-server >/dev/null
  else
    echo "flood: needs redis-server (apt-get install redis-server)" >&2
    exit 1
  fi
fi
(cd scripts/seedroute && npm ci --silent --no-audit --no-fund)
go build -o "$BUILD/devstack" ./cmd/devstack
go build -o "$BUILD/flood" ./cmd/flood

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { # url pid
  for _ in $(seq 1 100); do
    curl -fsS "$1/api/dev/users" >/dev/null 2>&1 && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

redis_port=$(free_port)
redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no >"$BUILD/redis.log" 2>&1 &
pids+=($!)

seed() { # label, then the server's environment
  local label=$1 port
  shift
  port=$(free_port)
  redis-cli -p "$redis_port" flushall >/dev/null
  env "$@" PORT="$port" REDIS_PORT="$redis_port" node scripts/seedroute/server.js >"$BUILD/seed.log" 2>&1 &
  local pid=$!
  wait_up "http://127.0.0.1:$port" "$pid" || { echo "flood: the seed route did not start; see $BUILD/seed.log" >&2; exit 1; }
  echo "$label: $("$BUILD/flood" -duration "$DURATION" "http://127.0.0.1:$port")"
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
}

stack() {
  local port quotas=()
  port=$(free_port)
  for t in FREE PRO PREMIUM ENTERPRISE; do quotas+=("QUOTA_OPEN_$t=0" "QUOTA_DAILY_$t=0"); done
  env "${quotas[@]}" API_RATE_PER_USER=0 API_RATE_PER_IP=0 PORT="$port" LOG_LEVEL=ERROR "$BUILD/devstack" >"$BUILD/stack.log" 2>&1 &
  local pid=$!
  wait_up "http://127.0.0.1:$port" "$pid" || { echo "flood: the local stack did not start; see $BUILD/stack.log" >&2; exit 1; }
  echo "  local stack: $("$BUILD/flood" -duration "$DURATION" "http://127.0.0.1:$port")"
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
}

for round in $(seq 1 "$ROUNDS"); do
  echo "round $round"
  seed "  seed route, as written" SEED_KEY_OBJECT=0
  seed "  seed route, JWT key made once" SEED_KEY_OBJECT=1
  stack
done

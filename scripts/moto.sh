#!/usr/bin/env bash
# moto, the AWS emulator the AWS adapters' tests run against.
#
#   scripts/moto.sh install   create .venv with moto[server] (if missing)
#   scripts/moto.sh start     install, start moto on a free loopback port,
#                             wait until it answers, print its endpoint
#   scripts/moto.sh stop      stop the moto that start started
#   MOTO_INSTANCE=name ...    the same for another server, named name
#
# Typical use (what make test does):
#   export AWS_ENDPOINT_URL=$(scripts/moto.sh start); go test ./...; scripts/moto.sh stop
set -euo pipefail

MOTO_VERSION=5.2.5
root=$(cd "$(dirname "$0")/.." && pwd)
venv=$root/.venv
# MOTO_INSTANCE names a second server beside the first (its own port, pid
# and log): make test gives the local stack's scenarios one of their own.
instance=${MOTO_INSTANCE:-moto}
pidfile=$venv/$instance.pid
portfile=$venv/$instance.port
logfile=$venv/$instance.log

install() {
	if [ -x "$venv/bin/python" ] &&
		"$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('moto') != '$MOTO_VERSION')" 2>/dev/null &&
		[ -x "$venv/bin/moto_server" ]; then
		return
	fi
	echo "installing moto[server]==$MOTO_VERSION into $venv" >&2
	python3 -m venv "$venv"
	"$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION" >&2
}

running() {
	[ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

answers() {
	"$venv/bin/python" - "$1" <<'PY' 2>/dev/null
import sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/moto-api/", timeout=1).read()
PY
}

start() {
	install
	if running && answers "$(cat "$portfile")"; then
		echo "http://127.0.0.1:$(cat "$portfile")"
		return
	fi
	local port
	port=$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	# scripts/moto_server.py is moto's server with DynamoDB requests run one
	# at a time (see there why).
	nohup "$venv/bin/python" "$root/scripts/moto_server.py" -H 127.0.0.1 -p "$port" >"$logfile" 2>&1 &
	echo $! >"$pidfile"
	echo "$port" >"$portfile"
	for _ in $(seq 1 300); do
		if answers "$port"; then
			echo "http://127.0.0.1:$port"
			return
		fi
		if ! running; then
			echo "moto exited at start; its log ($logfile):" >&2
			tail -n 20 "$logfile" >&2
			exit 1
		fi
		sleep 0.1
	done
	echo "moto did not answer on port $port within 30 s; log: $logfile" >&2
	stop
	exit 1
}

stop() {
	if running; then
		local pid
		pid=$(cat "$pidfile")
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 1 30); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$pid" 2>/dev/null || true
	fi
	rm -f "$pidfile" "$portfile"
}

case "${1:-}" in
install) install ;;
start) start ;;
stop) stop ;;
*)
	echo "usage: $0 install|start|stop" >&2
	exit 2
	;;
esac

#!/usr/bin/env bash
# LocalStack without Docker: its core from PyPI, serving SQS alone (make
# test-localstack puts DynamoDB and S3 on moto: LocalStack's DynamoDB needs
# a download this machine cannot make).
#
#   scripts/localstack.sh install   create .venv-localstack with localstack-core[runtime]
#                                   (pinned: scripts/localstack-constraints.txt), if missing
#   scripts/localstack.sh start     install, start LocalStack on a free loopback port
#                                   (LOCALSTACK_PORT to choose one), wait until its
#                                   health says SQS is running, print its endpoint
#   scripts/localstack.sh stop      stop the LocalStack that start started
#
# Typical use, SQS on LocalStack and everything else on moto:
#   export AWS_ENDPOINT_URL_SQS=$(scripts/localstack.sh start) AWS_ENDPOINT_URL=$(scripts/moto.sh start)
#   make dev; scripts/localstack.sh stop; scripts/moto.sh stop
#
# LocalStack's SQS needs Python 3.13 or newer (localstack-core says 3.10,
# but its SQS imports warnings.deprecated, new in 3.13: on 3.12 the plugin
# fails to load). The first of these that works is used: $LOCALSTACK_PYTHON;
# python3.13, python3.14 on PATH; pyenv's installed 3.13+ versions (this
# project's machines have pyenv's 3.13 beside the default 3.11);
# /usr/bin/python3.1x; python3 if it is new enough.
set -euo pipefail

LOCALSTACK_VERSION=4.14.0
root=$(cd "$(dirname "$0")/.." && pwd)
venv=$root/.venv-localstack
constraints=$root/scripts/localstack-constraints.txt
pidfile=$venv/localstack.pid
portfile=$venv/localstack.port
logfile=$venv/localstack.log

usable() {
	"$1" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 13))' >/dev/null 2>&1
}

find_python() {
	local p candidates=()
	if [ -n "${LOCALSTACK_PYTHON:-}" ]; then
		if usable "$LOCALSTACK_PYTHON"; then
			echo "$LOCALSTACK_PYTHON"
			return
		fi
		echo "LOCALSTACK_PYTHON=$LOCALSTACK_PYTHON is not a Python 3.13+ with venv and ensurepip" >&2
		return 1
	fi
	for p in python3.13 python3.14 python3.15; do
		# a pyenv shim of a version that is not selected fails here, and
		# is found below by its path instead
		if command -v "$p" >/dev/null 2>&1; then candidates+=("$(command -v "$p")"); fi
	done
	local pyenv_root=${PYENV_ROOT:-}
	if [ -z "$pyenv_root" ] && command -v pyenv >/dev/null 2>&1; then pyenv_root=$(pyenv root 2>/dev/null || true); fi
	[ -n "$pyenv_root" ] || pyenv_root=$HOME/.pyenv
	for p in "$pyenv_root"/versions/3.1[3-9]*/bin/python3 /usr/bin/python3.1[3-9]; do
		if [ -x "$p" ]; then candidates+=("$p"); fi
	done
	if command -v python3 >/dev/null 2>&1; then candidates+=("$(command -v python3)"); fi
	for p in "${candidates[@]}"; do
		if usable "$p"; then
			echo "$p"
			return
		fi
	done
	cat >&2 <<-MSG
		LocalStack needs Python 3.13 or newer (with venv), and none was found.
		Install one (pyenv install 3.13; or Debian trixie's python3.13 and python3.13-venv)
		or point LOCALSTACK_PYTHON at one.
	MSG
	return 1
}

# The stamp names what is installed: LocalStack's version and the
# constraints file's checksum, so changing either reinstalls.
stamp() {
	echo "$venv/.installed-$LOCALSTACK_VERSION-$(sha256sum "$constraints" | cut -c1-16)"
}

install() {
	if [ -f "$(stamp)" ] && usable "$venv/bin/python"; then
		return
	fi
	local python
	python=$(find_python)
	echo "installing localstack-core[runtime]==$LOCALSTACK_VERSION into $venv with $("$python" --version 2>&1) ($python); a few minutes" >&2
	rm -rf "$venv"
	"$python" -m venv "$venv"
	"$venv/bin/pip" install --quiet --disable-pip-version-check \
		-c "$constraints" "localstack-core[runtime]==$LOCALSTACK_VERSION" >&2
	touch "$(stamp)"
}

running() {
	[ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

# sqs_running PORT: the health endpoint answers and says SQS is running.
sqs_running() {
	"$venv/bin/python" - "$1" <<'PY' 2>/dev/null
import json, sys, urllib.request
with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/_localstack/health", timeout=1) as r:
    health = json.load(r)
sys.exit(health.get("services", {}).get("sqs") not in ("running", "available"))
PY
}

start() {
	install
	if running && sqs_running "$(cat "$portfile")"; then
		echo "http://127.0.0.1:$(cat "$portfile")"
		return
	fi
	stop
	local port=${LOCALSTACK_PORT:-}
	if [ -z "$port" ]; then
		port=$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	fi
	# Its files (certificate, state) under the venv; a fresh state each start.
	rm -rf "$venv/filesystem"
	# OVERRIDE_IN_DOCKER=0: this machine has a /.dockerenv, from which
	# LocalStack would take it for its own container and write to
	# /var/lib/localstack. DNS_ADDRESS=0: no DNS server (it would bind port
	# 53 on every address). No certificate download, no analytics: only
	# PyPI is reachable. The queue URLs name this endpoint itself
	# (http://127.0.0.1:PORT/queue/us-east-1/000000000000/NAME), so they
	# work without LocalStack's DNS. SQS starts at once, not on the first
	# request. LocalStack's own AWS clients must not follow an endpoint
	# variable meant for the tests.
	local unset_endpoints=()
	local v
	for v in $(compgen -e | grep '^AWS_ENDPOINT_URL' || true); do unset_endpoints+=(-u "$v"); done
	env "${unset_endpoints[@]}" \
		AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true \
		OVERRIDE_IN_DOCKER=0 \
		FILESYSTEM_ROOT="$venv/filesystem" \
		GATEWAY_LISTEN="127.0.0.1:$port" \
		LOCALSTACK_HOST="127.0.0.1:$port" \
		SERVICES=sqs \
		EAGER_SERVICE_LOADING=1 \
		SQS_ENDPOINT_STRATEGY=path \
		DNS_ADDRESS=0 \
		SKIP_SSL_CERT_DOWNLOAD=1 \
		DISABLE_EVENTS=1 \
		LOCALSTACK_TELEMETRY=0 \
		nohup "$venv/bin/python" -m localstack.runtime.main >"$logfile" 2>&1 &
	echo $! >"$pidfile"
	echo "$port" >"$portfile"
	local deadline=$((SECONDS + 120))
	while [ "$SECONDS" -lt "$deadline" ]; do
		if sqs_running "$port"; then
			echo "http://127.0.0.1:$port"
			return
		fi
		if ! running; then
			echo "LocalStack exited at start; its log ($logfile):" >&2
			tail -n 30 "$logfile" >&2
			rm -f "$pidfile" "$portfile"
			exit 1
		fi
		sleep 0.2
	done
	echo "LocalStack's SQS was not running on port $port within 120 s; log ($logfile):" >&2
	tail -n 30 "$logfile" >&2
	stop
	exit 1
}

stop() {
	if running; then
		local pid
		pid=$(cat "$pidfile")
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 1 100); do
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

#!/usr/bin/env bash
# schemathesis, the property-based OpenAPI tester make test-conformance runs
# against the local stack (scripts/conformance.sh).
#
#   scripts/schemathesis.sh install   create .tools/schemathesis-venv with
#                                     schemathesis (pinned), if missing, and
#                                     print its st command
#
# Any Python 3.10 or newer with venv and ensurepip will do; the first of
# $SCHEMATHESIS_PYTHON, python3, pyenv's installed 3.1x versions that works
# is used.
set -euo pipefail

SCHEMATHESIS_VERSION=4.32.5
root=$(cd "$(dirname "$0")/.." && pwd)
venv=$root/.tools/schemathesis-venv

usable() {
	"$1" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 10))' >/dev/null 2>&1
}

find_python() {
	local p candidates=()
	if [ -n "${SCHEMATHESIS_PYTHON:-}" ]; then candidates+=("$SCHEMATHESIS_PYTHON"); fi
	if command -v python3 >/dev/null 2>&1; then candidates+=("$(command -v python3)"); fi
	local pyenv_root=${PYENV_ROOT:-$HOME/.pyenv}
	for p in "$pyenv_root"/versions/3.1[0-9]*/bin/python3 /usr/bin/python3.1[0-9]; do
		if [ -x "$p" ]; then candidates+=("$p"); fi
	done
	for p in "${candidates[@]}"; do
		if usable "$p"; then
			echo "$p"
			return
		fi
	done
	echo "no Python 3.10+ with venv and ensurepip found (set SCHEMATHESIS_PYTHON)" >&2
	return 1
}

install() {
	if [ -x "$venv/bin/st" ] &&
		"$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('schemathesis') != '$SCHEMATHESIS_VERSION')" 2>/dev/null; then
		echo "$venv/bin/st"
		return
	fi
	local python
	python=$(find_python)
	echo "installing schemathesis==$SCHEMATHESIS_VERSION into $venv" >&2
	rm -rf "$venv"
	mkdir -p "$(dirname "$venv")"
	"$python" -m venv "$venv"
	"$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION" >&2
	echo "$venv/bin/st"
}

case "${1:-}" in
install) install ;;
*)
	echo "usage: $0 install" >&2
	exit 2
	;;
esac

#!/usr/bin/env bash
# Fetches axe-core's axe.min.js, pinned and checksum-verified, for the
# browser test's accessibility check (internal/browsertest). The file goes
# to .build/axe/ (git ignores .build); a file already there is kept. The
# tarball comes from the npm registry, and its SHA-512 must match the one
# the registry published for this version (dist.integrity), so neither a
# changed registry answer nor a broken download reaches the test.
set -euo pipefail
cd "$(dirname "$0")/.."

version=4.10.3
integrity=sha512-Xm7bpRXnDSX2YE2YFfBk2FnF0ep6tmG7xPh8iHee8MIcrgq762Nkce856dYtJYLkuIoYZvGfTs/PbZhideTcEg==
registry=${NPM_CONFIG_REGISTRY:-https://registry.npmjs.org}
out=.build/axe/axe.min.js

if [ -s "$out" ] && [ "$(cat "$out.version" 2>/dev/null)" = "$version" ]; then
  exit 0
fi
mkdir -p .build/axe
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
url="${registry%/}/axe-core/-/axe-core-$version.tgz"
if command -v curl >/dev/null 2>&1; then
  curl -fsSL --retry 3 -o "$tmp/axe.tgz" "$url"
elif command -v wget >/dev/null 2>&1; then
  wget -q -O "$tmp/axe.tgz" "$url"
else
  (cd "$tmp" && npm pack --silent "axe-core@$version" >/dev/null && mv "axe-core-$version.tgz" axe.tgz)
fi
# Coreutils only: the integrity's base64 digest as hex, against sha512sum.
want=$(printf '%s' "${integrity#sha512-}" | base64 -d | od -An -v -tx1 | tr -d ' \n')
got=$(sha512sum "$tmp/axe.tgz" | cut -d' ' -f1)
if [ "$got" != "$want" ]; then
  echo "axe-core $version: checksum mismatch (sha512 $got, want $want from $integrity)" >&2
  exit 1
fi
tar -xzf "$tmp/axe.tgz" -C "$tmp" package/axe.min.js
mv "$tmp/package/axe.min.js" "$out"
echo "$version" >"$out.version"
echo "axe-core $version in $out" >&2

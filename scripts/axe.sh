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
curl -fsSL --retry 3 -o "$tmp/axe.tgz" "${registry%/}/axe-core/-/axe-core-$version.tgz"
got="sha512-$(openssl dgst -sha512 -binary "$tmp/axe.tgz" | base64 -w0)"
if [ "$got" != "$integrity" ]; then
  echo "axe-core $version: checksum mismatch (got $got, want $integrity)" >&2
  exit 1
fi
tar -xzf "$tmp/axe.tgz" -C "$tmp" package/axe.min.js
mv "$tmp/package/axe.min.js" "$out"
echo "$version" >"$out.version"
echo "axe-core $version in $out" >&2

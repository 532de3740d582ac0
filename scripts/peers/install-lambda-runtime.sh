#!/usr/bin/env bash
# The Lambda runtime the functions' shipped artifacts are tested and benchmarked in, as AWS's Node base
# image has it: the Runtime Interface Emulator (Go module github.com/aws/aws-lambda-runtime-interface-emulator,
# cmd/aws-lambda-rie, built from the pinned pseudo-version through the Go module proxy) in front of the
# official Node runtime interface client (npm aws-lambda-ric, pinned), whose native addon is compiled for
# the shipped Node (24, from install-node-runtime.sh) by running npm under that Node.
# Into $CACHE/lambda-runtime: bin/aws-lambda-rie and ric/node_modules/aws-lambda-ric/index.mjs.
# Idempotent: a version stamp short-cuts a second run. Needs go, make, cmake, g++, autoconf, automake,
# libtool (install-system.sh) and npm.
set -euo pipefail
RIE_VERSION=v0.0.0-20261030222936-bef5c4ba774d
RIC_VERSION=4.0.2
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${PODIAM_CACHE_DIR:-$HOME/.cache/podiam}"
dest="$cache/lambda-runtime"
die() { echo "podiam peers (lambda-runtime): $*" >&2; exit 1; }

# The addon is built for the Node that runs it; install.sh runs this step before node-runtime.
PODIAM_CACHE_DIR="$cache" bash "$here/install-node-runtime.sh" >/dev/null
node24="$cache/bin/node24"
want="rie=$RIE_VERSION ric=$RIC_VERSION node=$("$node24" --version)"

if [[ -x "$dest/bin/aws-lambda-rie" && -f "$dest/ric/node_modules/aws-lambda-ric/rapid-client.node" \
      && "$(cat "$dest/.stamp" 2>/dev/null)" == "$want" ]]; then
  echo cached
  exit 0
fi
command -v go >/dev/null || die "'go' is not on PATH; install Go 1.26 or newer (the emulator's go.mod asks for it)."
command -v npm >/dev/null || die "'npm' is not on PATH; install Node.js and npm first."
for tool in make cmake g++ autoreconf libtoolize; do
  command -v "$tool" >/dev/null || die "'$tool' is not on PATH; run scripts/peers/install-system.sh (aws-lambda-ric compiles curl and aws-lambda-cpp)."
done

work="$(mktemp -d "$cache/.lambda-runtime.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin" "$work/ric" "$work/gopath"

# CGO off: a static binary, as AWS releases it. A private GOPATH keeps the module cache out of ~/go.
GOBIN="$work/bin" GOPATH="$work/gopath" GOFLAGS=-mod=mod CGO_ENABLED=0 \
  go install "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$RIE_VERSION" \
  || die "go install of aws-lambda-rie@$RIE_VERSION failed; check that the Go module proxy is reachable."
chmod -R u+w "$work/gopath" && rm -rf "$work/gopath"

# node24 has no npm of its own: run the machine's npm-cli.js with node24, and put node24 first on PATH as
# `node` so the package's install scripts and node-gyp build against Node 24's ABI.
npm_cli="$(dirname "$(readlink -f "$(command -v npm)")")/npm-cli.js"
[[ -f "$npm_cli" ]] || die "npm-cli.js not found beside $(command -v npm)."
ln -s "$node24" "$work/bin/node"
echo '{ "name": "podiam-lambda-runtime", "private": true }' > "$work/ric/package.json"
(cd "$work/ric" && PATH="$work/bin:$PATH" "$node24" "$npm_cli" install --no-audit --no-fund --save-exact \
  "aws-lambda-ric@$RIC_VERSION") || die "npm install aws-lambda-ric@$RIC_VERSION under $("$node24" --version) failed; see the log."
rm "$work/bin/node"
[[ -f "$work/ric/node_modules/aws-lambda-ric/rapid-client.node" ]] \
  || die "aws-lambda-ric@$RIC_VERSION installed without its native addon (rapid-client.node)."

rm -rf "$dest"
mv "$work" "$dest"
trap - EXIT
echo "$want" > "$dest/.stamp"
echo installed

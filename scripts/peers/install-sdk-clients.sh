#!/usr/bin/env bash
# The AWS SDK clients that tests run inside pod network namespaces, beside the JS SDK v3 (node_modules) and
# botocore (install-python.sh): go-sts-whoami, the AWS SDK for Go v2 with its default credential chain
# calling STS GetCallerIdentity (scripts/peers/sdk-clients/go-sts-whoami, every module pinned by its
# go.mod/go.sum), built into $CACHE/bin/go-sts-whoami.
#
# Idempotent: a stamp holding a hash of the module's go.mod, go.sum and sources short-cuts a second run.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${PODIAM_CACHE_DIR:-$HOME/.cache/podiam}"
bin="$cache/bin"
src="$here/sdk-clients/go-sts-whoami"
name=go-sts-whoami

die() { echo "podiam peers (sdk-clients): $*" >&2; exit 1; }

stamp="$(cat "$src/go.mod" "$src/go.sum" $(find "$src" -name '*.go' | sort) | sha256sum | cut -c1-16)"
if [[ -x "$bin/$name" && -f "$bin/.$name.version" && "$(cat "$bin/.$name.version")" == "$stamp" ]]; then
  echo cached
  exit 0
fi
command -v go >/dev/null || die "'go' is not on PATH; install Go 1.24 or newer to build $name (the AWS SDK for Go v2 client)."
mkdir -p "$bin"
# The local toolchain only (no toolchain download), and go.sum as the pin: -mod=readonly refuses to change it.
(cd "$src" && GOTOOLCHAIN=local GOFLAGS="-mod=readonly -trimpath" CGO_ENABLED=0 go build -ldflags=-s -o "$bin/$name.tmp" .) \
  || { rm -f "$bin/$name.tmp"; die "go build in $src failed; see the output above."; }
mv -f "$bin/$name.tmp" "$bin/$name"
echo "$stamp" > "$bin/.$name.version"
echo installed

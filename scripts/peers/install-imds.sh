#!/usr/bin/env bash
# amazon-ec2-metadata-mock (the real IMDS upstream for tests), built from its Go module at a pinned version
# into $CACHE/bin/ec2-metadata-mock. Idempotent: a version stamp next to the binary short-cuts a second run.
set -euo pipefail
AEMM_VERSION=v1.13.0
cache="${PODIAM_CACHE_DIR:-$HOME/.cache/podiam}"
bin_dir="$cache/bin"
stamp="$bin_dir/.ec2-metadata-mock.version"

die() { echo "podiam peers (imds): $*" >&2; exit 1; }

if [[ -x "$bin_dir/ec2-metadata-mock" && -f "$stamp" && "$(cat "$stamp")" == "$AEMM_VERSION" ]]; then
  echo cached
  exit 0
fi
command -v go >/dev/null || die "'go' is not on PATH; install Go 1.23 or newer to build amazon-ec2-metadata-mock $AEMM_VERSION."
mkdir -p "$bin_dir"
# Build outside any module so the repository's state cannot change what gets built.
cd "$(mktemp -d)"
GOBIN="$bin_dir" GOFLAGS=-trimpath GOTOOLCHAIN=local \
  go install "github.com/aws/amazon-ec2-metadata-mock/cmd/ec2-metadata-mock@$AEMM_VERSION" \
  || die "go install github.com/aws/amazon-ec2-metadata-mock/cmd/ec2-metadata-mock@$AEMM_VERSION failed; see the output above."
"$bin_dir/ec2-metadata-mock" --version >/dev/null || die "$bin_dir/ec2-metadata-mock does not run."
echo "$AEMM_VERSION" > "$stamp"
echo installed

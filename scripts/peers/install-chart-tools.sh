#!/usr/bin/env bash
# Installs the tools the chart's tests need beyond helm and kubectl (scripts/peers/install.sh brings those):
# helm-docs, which writes chart/README.md's values table from the comments in chart/values.yaml.
# Pinned, built from the Go module proxy into the same cache as the other peers; idempotent.
set -euo pipefail

HELM_DOCS_VERSION=v1.14.2
cache_dir="${PODIAM_CACHE_DIR:-$HOME/.cache/podiam}"
bin_dir="$cache_dir/bin"
stamp="$bin_dir/.helm-docs-$HELM_DOCS_VERSION"

if [[ -x "$bin_dir/helm-docs" && -f "$stamp" ]]; then
  echo cached
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "install-chart-tools: 'go' is not on PATH; install Go 1.22 or newer to build helm-docs $HELM_DOCS_VERSION" >&2
  exit 1
fi
mkdir -p "$bin_dir"
echo "install-chart-tools: building helm-docs $HELM_DOCS_VERSION into $bin_dir (once; cached)"
GOBIN="$bin_dir" GOFLAGS=-trimpath go install "github.com/norwoodj/helm-docs/cmd/helm-docs@$HELM_DOCS_VERSION"
touch "$stamp"
echo "installed helm-docs $HELM_DOCS_VERSION"

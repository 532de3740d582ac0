#!/usr/bin/env bash
# `npm run chart:docs`: regenerates chart/README.md from chart/README.md.gotmpl and the `# --` comments in chart/values.yaml,
# with the pinned helm-docs (scripts/peers/install-chart-tools.sh). `--check` writes nothing and fails
# when the README is out of date.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
helm_docs="${PODIAM_CACHE_DIR:-$HOME/.cache/podiam}/bin/helm-docs"
[[ -x "$helm_docs" ]] || bash "$root/scripts/peers/install-chart-tools.sh" >&2

if [[ "${1:-}" == "--check" ]]; then
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  cp -r "$root/chart" "$work/chart"
  (cd "$work" && "$helm_docs" --log-level warning --chart-search-root chart --template-files README.md.gotmpl --sort-values-order file)
  if ! diff -u "$root/chart/README.md" "$work/chart/README.md"; then
    echo "chart/README.md is out of date with chart/values.yaml; run: bash scripts/chart-docs.sh" >&2
    exit 1
  fi
  exit 0
fi
cd "$root"
"$helm_docs" --log-level warning --chart-search-root chart --template-files README.md.gotmpl --sort-values-order file

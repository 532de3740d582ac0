#!/usr/bin/env bash
# Installs the real Kubernetes API server peer: kube-apiserver and etcd, both built
# from their published Go modules at pinned versions (see the wrapper modules in
# scripts/peers/kube-apiserver and scripts/peers/etcd); and the real node's binaries
# (issue 12): kubelet, kube-controller-manager and kube-scheduler from the same release
# (wrapper module scripts/peers/kube-node), and the helpers pause, ns-bridge and node-probe
# (scripts/peers/node-helpers, standard library only).
#
# Idempotent: each binary is stamped with its version and a hash of its wrapper module
# and link flags; a re-run with a matching stamp does nothing (about 10 ms). Build logs
# are kept in $CACHE/logs.
#
#   PODIAM_CACHE_DIR   cache root (default: $HOME/.cache/podiam)
set -euo pipefail

KUBE_VERSION=v1.34.4
ETCD_VERSION=v3.6.4

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${PODIAM_CACHE_DIR:-$HOME/.cache/podiam}"
bin="$cache/bin"
logs="$cache/logs"
mkdir -p "$bin" "$logs"

if ! command -v go >/dev/null 2>&1; then
  echo "install-kube: 'go' is not on PATH; kube-apiserver and etcd are built from Go modules" >&2
  exit 1
fi

# Build with the local toolchain only: a toolchain download is not possible here.
export GOTOOLCHAIN=local
export GOFLAGS=-mod=mod
export CGO_ENABLED=0

stamp_ok() { # name stamp
  [[ -x "$bin/$1" && -f "$bin/.$1.version" && "$(cat "$bin/.$1.version")" == "$2" ]]
}

build() { # name version module-dir package ldflags
  local name="$1" version="$2" dir="$3" pkg="$4" ldflags="$5" stamp
  # The wrapper modules hold no Go source; the helpers do, and a changed source must rebuild.
  stamp="$version $(cat "$dir/go.mod" "$dir/go.sum" <(echo "$ldflags") <(find "$dir" -name '*.go' | sort | xargs -r cat) | sha256sum | cut -c1-12)"
  if stamp_ok "$name" "$stamp"; then
    echo "install-kube: $name $version cached in $bin"
    return 0
  fi
  local log="$logs/$name-build.log" start end
  start=$(date +%s)
  echo "install-kube: building $name $version (log: $log)"
  if ! (cd "$dir" && go build -trimpath -ldflags="$ldflags" -o "$bin/$name.tmp" "$pkg") >"$log" 2>&1; then
    echo "install-kube: building $name failed; last lines of $log:" >&2
    tail -n 30 "$log" >&2
    rm -f "$bin/$name.tmp"
    return 1
  fi
  mv -f "$bin/$name.tmp" "$bin/$name"
  echo "$stamp" >"$bin/.$name.version"
  end=$(date +%s)
  echo "install-kube: built $name $version in $((end - start)) s ($(du -h "$bin/$name" | cut -f1))" | tee -a "$log"
}

# etcd: server/v3's root package is etcd's main.
build etcd "$ETCD_VERSION" "$here/etcd" go.etcd.io/etcd/server/v3 "-s"

# The version variables hack/lib/version.sh would set: /version, kubectl version and
# helm's kubeVersion checks read them; without them the server says v0.0.0-master.
minor="${KUBE_VERSION#v1.}"
minor="${minor%%.*}"
vpkg=k8s.io/component-base/version
kube_ldflags="-s -X $vpkg.gitVersion=$KUBE_VERSION -X $vpkg.gitMajor=1 -X $vpkg.gitMinor=$minor -X $vpkg.gitTreeState=clean -X $vpkg.buildDate=1970-01-01T00:00:00Z"
build kube-apiserver "$KUBE_VERSION" "$here/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver "$kube_ldflags"

# The real node (issue 12). kube-scheduler and kube-controller-manager link most of
# kube-apiserver's packages, so with a warm GOCACHE they mostly link.
for cmd in kubelet kube-controller-manager kube-scheduler; do
  build "$cmd" "$KUBE_VERSION" "$here/kube-node" "k8s.io/kubernetes/cmd/$cmd" "$kube_ldflags"
done
build pause 1 "$here/node-helpers" ./pause "-s"
build ns-bridge 1 "$here/node-helpers" ./ns-bridge "-s"
build node-probe 1 "$here/node-helpers" ./node-probe "-s"

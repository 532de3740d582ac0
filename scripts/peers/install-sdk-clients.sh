#!/usr/bin/env bash
# The AWS SDK clients that tests run inside pod network namespaces, beside the JS SDK v3 (node_modules) and
# botocore (install-python.sh):
# - go-sts-whoami, the AWS SDK for Go v2 with its default credential chain calling STS GetCallerIdentity
#   (scripts/peers/sdk-clients/go-sts-whoami, every module pinned by its go.mod/go.sum), built into
#   $CACHE/bin/go-sts-whoami;
# - java-sts-whoami, the same with the AWS SDK for Java v2 (scripts/peers/sdk-clients/java-sts-whoami, the
#   SDK pinned by its BOM in pom.xml, the build by its plugin versions), built with Maven into one
#   self-contained jar, $CACHE/bin/java-sts-whoami.jar. Maven's local repository is $CACHE/m2, so the
#   cache that keeps the binaries keeps the downloads too.
#
# Idempotent: per client, a stamp holding a hash of its build files and sources short-cuts a second run.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${PODIAM_CACHE_DIR:-$HOME/.cache/podiam}"
bin="$cache/bin"
clients="$here/sdk-clients"

die() { echo "podiam peers (sdk-clients): $*" >&2; exit 1; }

# $1 name, $2 file with the hash; true when the output $3 exists and was built from these sources.
fresh() { [[ -e "$3" && -f "$bin/.$1.version" && "$(cat "$bin/.$1.version")" == "$2" ]]; }

did=()
mkdir -p "$bin"

# --- go-sts-whoami ---
name=go-sts-whoami
src="$clients/$name"
stamp="$(cat "$src/go.mod" "$src/go.sum" $(find "$src" -name '*.go' | sort) | sha256sum | cut -c1-16)"
if ! fresh "$name" "$stamp" "$bin/$name"; then
  command -v go >/dev/null || die "'go' is not on PATH; install Go 1.24 or newer to build $name (the AWS SDK for Go v2 client)."
  # The local toolchain only (no toolchain download), and go.sum as the pin: -mod=readonly refuses to change it.
  (cd "$src" && GOTOOLCHAIN=local GOFLAGS="-mod=readonly -trimpath" CGO_ENABLED=0 go build -ldflags=-s -o "$bin/$name.tmp" .) \
    || { rm -f "$bin/$name.tmp"; die "go build in $src failed; see the output above."; }
  mv -f "$bin/$name.tmp" "$bin/$name"
  echo "$stamp" > "$bin/.$name.version"
  did+=("$name")
fi

# --- java-sts-whoami ---
name=java-sts-whoami
src="$clients/$name"
jar="$bin/$name.jar"
stamp="$(cd "$src" && cat pom.xml $(find src -type f | sort) | sha256sum | cut -c1-16)"
if ! fresh "$name" "$stamp" "$jar"; then
  if ! command -v mvn >/dev/null || ! command -v java >/dev/null; then
    [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null \
      || die "'mvn' or 'java' is not on PATH; install Maven and a JDK 17 or newer (apt-get install maven openjdk-17-jdk-headless) to build $name (the AWS SDK for Java v2 client)."
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends maven openjdk-17-jdk-headless >/dev/null; } \
      || die "apt-get install maven openjdk-17-jdk-headless failed."
  fi
  # Built in a copy under the cache, so the repository gets no target/ folder. Maven's output goes to stderr:
  # even -q -B writes colour resets without a newline to stdout, which would prefix this script's last line.
  work="$cache/build/$name"
  rm -rf "$work" && mkdir -p "$work" && cp -R "$src/pom.xml" "$src/src" "$work/"
  mvn -q -B -Dstyle.color=never -f "$work/pom.xml" -Dmaven.repo.local="$cache/m2" package >&2 \
    || die "mvn package in $work (copied from $src) failed; see the output above."
  cp -f "$work/target/$name.jar" "$jar.tmp" && mv -f "$jar.tmp" "$jar"
  rm -rf "$work"
  echo "$stamp" > "$bin/.$name.version"
  did+=("$name")
fi

if [[ ${#did[@]} -eq 0 ]]; then echo cached; else echo "installed ${did[*]}"; fi

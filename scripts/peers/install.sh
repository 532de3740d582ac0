#!/usr/bin/env bash
# Installs every test peer, each pinned and cached outside the repository in ${PODIAM_CACHE_DIR:-$HOME/.cache/podiam}
# (CI runs in a fresh clone elsewhere, so an in-repo cache would always be cold). Idempotent: each step checks
# its own version stamp first, so a run with everything cached takes about a second.
# `npm test` runs this through scripts/ensure-setup.mjs; `npm run peers:install` runs it alone.
#
# Prints one line per peer: cached / installed and the seconds it took. A failing step is named, with the
# tail of its log ($CACHE/logs/install-<step>.log), and the script exits non-zero.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${PODIAM_CACHE_DIR:-$HOME/.cache/podiam}"
export PODIAM_CACHE_DIR="$cache"
mkdir -p "$cache/logs" "$cache/bin"

# Two test runs starting at once must not build into the same cache together.
exec 9>"$cache/.install.lock"
flock 9

# The peers this framework owns, in order, then any other scripts/peers/install-*.sh that parts of the
# project add (install-kube.sh for the API server and etcd, install-chart-tools.sh, ...).
steps=(system python imds helm-kubectl)
for f in "$here"/install-*.sh; do
  name="$(basename "$f" .sh)"; name="${name#install-}"
  [[ " ${steps[*]} " == *" $name "* ]] || steps+=("$name")
done

elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

# PODIAM_PEERS_SKIP="kube chart-tools" leaves steps out (for measuring or when a peer is provided otherwise).
skip=" ${PODIAM_PEERS_SKIP:-} "

total_start=$EPOCHREALTIME
for step in "${steps[@]}"; do
  if [[ "$skip" == *" $step "* ]]; then
    printf 'podiam peers: %-14s %-10s\n' "$step" skipped
    continue
  fi
  script="$here/install-$step.sh"
  [[ -f "$script" ]] || { echo "podiam peers: $script is missing" >&2; exit 1; }
  log="$cache/logs/install-$step.log"
  start=$EPOCHREALTIME
  if bash "$script" >"$log" 2>&1; then
    last="$(tail -n 1 "$log")"
    case "$last" in cached|*" cached"*) status=cached ;; installed*) status=installed ;; *) status=done ;; esac
    printf 'podiam peers: %-14s %-10s %6s s\n' "$step" "$status" "$(elapsed "$start")"
  else
    rc=$?
    echo "podiam peers: step '$step' ($script) FAILED with exit code $rc; last lines of $log:" >&2
    tail -n 30 "$log" | sed 's/^/  | /' >&2
    exit "$rc"
  fi
done
printf 'podiam peers: %-14s %-10s %6s s\n' all ready "$(elapsed "$total_start")"

#!/usr/bin/env bash
# Python test peers: moto[server], boto3/botocore, aws-sam-cli and cfn-lint in one virtualenv at $CACHE/venv,
# exactly as pinned in scripts/peers/requirements.txt. Idempotent: a stamp holding the hash of the
# requirements file and the interpreter version short-cuts a second run.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${PODIAM_CACHE_DIR:-$HOME/.cache/podiam}"
venv="$cache/venv"
req="$here/requirements.txt"
python="${PODIAM_PYTHON:-python3}"

die() { echo "podiam peers (python): $*" >&2; exit 1; }

command -v "$python" >/dev/null || die "'$python' not found; install Python 3.11+ or set PODIAM_PYTHON to an interpreter."
pyver="$("$python" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')"
want="$(sha256sum "$req" | cut -d' ' -f1) python-$pyver"
stamp="$venv/.podiam-stamp"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -x "$venv/bin/moto_server" && -x "$venv/bin/sam" && -x "$venv/bin/cfn-lint" ]]; then
  echo cached
  exit 0
fi

mkdir -p "$cache"
# A half-built venv from an interrupted run is rebuilt from scratch rather than patched.
rm -rf "$venv"
"$python" -m venv "$venv" || die "'$python -m venv $venv' failed; on Debian install python3-venv."
"$venv/bin/pip" install --quiet --disable-pip-version-check --no-input -r "$req" \
  || die "pip install -r $req failed; see the pip output above."
for bin in moto_server sam cfn-lint; do
  [[ -x "$venv/bin/$bin" ]] || die "$venv/bin/$bin missing after pip install."
done
echo "$want" > "$stamp"
echo installed

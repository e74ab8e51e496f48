#!/usr/bin/env bash
# Debian packages the release tests and `make demo-canary` run for real: Prometheus (scrapes the
# model servers) and nginx (the canary's weighted router). Installs only what is missing; needs
# root or sudo. Elsewhere (macOS, no apt), install them yourself and put them on PATH.
set -euo pipefail
missing=()
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
    echo "missing ${missing[*]}: install them (Prometheus and nginx) and put them on PATH" >&2
    exit 1
fi
sudo_cmd=""
[ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
echo "installing Debian packages: ${missing[*]}" >&2
$sudo_cmd apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"

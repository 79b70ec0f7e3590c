#!/bin/bash
# Installs the Debian packages trail needs, only those that are missing.
set -euo pipefail
pkgs=(build-essential cmake pkg-config libnng-dev libsqlite3-dev libunwind-dev libcjson-dev
      libmbedtls-dev libpq-dev
      sqlite3 strace clang clang-format python3 git openssl
      python3-torch python3-numpy
      rsync busybox-static python3-sklearn)
# The browser test of the web page (tests/browser): Node.js and npm for playwright-core (pinned in
# tests/browser/package-lock.json, installed by the test into the build directory), and Debian's
# chromium, which it drives headless (no browser download).
# A Node.js that ships its own npm (NodeSource's nodejs) conflicts with Debian's npm package:
# npm is wanted only when no npm command exists.
pkgs+=(nodejs chromium chromium-driver)
# PostgreSQL 15, the second store backend: its tests start a server of their own (initdb, pg_ctl).
pkgs+=(postgresql)
if ! command -v npm >/dev/null 2>&1; then pkgs+=(npm); fi
# `deps.sh bench` adds the baselines the benchmarks compare against.
if [ "${1:-}" = "bench" ]; then pkgs+=(reprozip hyperfine); fi
missing=()
for p in "${pkgs[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
echo "deps: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq || true
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"

#!/usr/bin/env bash
# Installs the Debian packages the test suite needs, only when they are missing.
# Idempotent and quick when everything is there. Needs root (or sudo) only to install.
set -euo pipefail

# command-or-file -> Debian package
declare -A needs=(
  [/usr/bin/chromium]=chromium
  [/usr/bin/chromedriver]=chromium-driver
  [/usr/sbin/debootstrap]=debootstrap
  [/usr/lib/x86_64-linux-gnu/libLLVM-19.so]=libllvm19
)

missing=()
for path in "${!needs[@]}"; do
  [ -e "$path" ] || missing+=("${needs[$path]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    echo "system-deps: missing ${missing[*]}; install them with apt-get as root" >&2; exit 1
  fi
else
  SUDO=
fi
echo "system-deps: installing ${missing[*]}" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

#!/usr/bin/env bash
# Builds a Debian trixie chroot holding a real GIMP 3 (gimp-console-3.0 + Python 3 plug-ins),
# used by tests/gimp to run the GIMP 3 plug-in inside GIMP itself, headless.
#
#   scripts/gimp3-chroot.sh            build when missing (idempotent), print the root path
#   JEWEL_RETOUCH_GIMP3_ROOT=DIR ...   build somewhere else (default below, outside the repo)
#
# The mirror is read from this machine's apt configuration (never hard-coded). Parallel runs
# are serialised with a lock file next to the root. Needs root (debootstrap, chroot, mount).
set -euo pipefail

ROOT="${JEWEL_RETOUCH_GIMP3_ROOT:-/var/cache/jewel-retouch/gimp3-root}"
READY="$ROOT/.jewel-retouch-gimp3-ready"
LOCK="$ROOT.lock"

log() { echo "gimp3-chroot: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Xvfb: the tests that open the plug-in's dialog run GIMP on a virtual X display.
ready() { [ -e "$READY" ] && [ -x "$ROOT/usr/bin/Xvfb" ]; }
if ready; then echo "$ROOT"; exit 0; fi
[ "$(id -u)" -eq 0 ] || die "building the GIMP 3 chroot needs root (debootstrap, chroot)"

debian_mirror() {
  # deb822 sources first: the URIs line of a stanza whose suites are not *-security.
  local file uri
  for file in /etc/apt/sources.list.d/*.sources; do
    [ -e "$file" ] || continue
    uri=$(awk '
      BEGIN { RS=""; FS="\n" }
      {
        uris=""; suites=""
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^URIs:/) { uris=$i; sub(/^URIs:[ \t]*/, "", uris) }
          if ($i ~ /^Suites:/) { suites=$i }
        }
        if (uris != "" && suites !~ /security/) { split(uris, u, " "); print u[1]; exit }
      }' "$file")
    if [ -n "$uri" ]; then echo "$uri"; return; fi
  done
  # one-line sources.list format
  for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -e "$file" ] || continue
    uri=$(awk '$1 == "deb" && $0 !~ /security/ {
      for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' "$file")
    if [ -n "$uri" ]; then echo "$uri"; return; fi
  done
}

mkdir -p "$(dirname "$ROOT")"
exec 9>"$LOCK"
log "waiting for the build lock $LOCK"
flock 9
if ready; then echo "$ROOT"; exit 0; fi  # another run built it while we waited

MIRROR=$(debian_mirror)
[ -n "$MIRROR" ] || die "no Debian mirror found in /etc/apt/sources.list(.d)"
log "mirror $MIRROR, root $ROOT"

if ! command -v debootstrap >/dev/null 2>&1 && [ ! -x /usr/sbin/debootstrap ]; then
  log "installing debootstrap"
  # another apt run (e.g. scripts/system-deps.sh) may hold the dpkg lock: wait for it
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends debootstrap >/dev/null
fi
DEBOOTSTRAP=$(command -v debootstrap || echo /usr/sbin/debootstrap)

mounted=()
unmount_all() {
  local i
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
    umount -l "${mounted[$i]}" 2>/dev/null || true
  done
  mounted=()
}
trap unmount_all EXIT

# Leftover mounts from a killed run would make rm -rf dangerous: unmount first.
for sub in dev/pts dev sys proc; do
  if mountpoint -q "$ROOT/$sub" 2>/dev/null; then umount -l "$ROOT/$sub" || true; fi
done

if [ ! -x "$ROOT/usr/bin/apt-get" ] || [ ! -e "$ROOT/.debootstrap-done" ]; then
  log "debootstrap trixie (minbase)"
  rm -rf --one-file-system "$ROOT"
  "$DEBOOTSTRAP" --variant=minbase trixie "$ROOT" "$MIRROR" >&2 \
    || die "debootstrap trixie failed (see above)"
  touch "$ROOT/.debootstrap-done"
fi

cp /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
chmod 755 "$ROOT/usr/sbin/policy-rc.d"

if [ ! -x "$ROOT/usr/bin/gimp-console-3.0" ] || [ ! -x "$ROOT/usr/bin/Xvfb" ]; then
  for sub in proc sys dev dev/pts; do
    mkdir -p "$ROOT/$sub"
    case $sub in
      proc) mount -t proc proc "$ROOT/proc" ;;
      sys) mount -t sysfs sysfs "$ROOT/sys" ;;
      dev) mount --bind /dev "$ROOT/dev" ;;
      dev/pts) mount --bind /dev/pts "$ROOT/dev/pts" ;;
    esac
    mounted+=("$ROOT/$sub")
  done
  log "apt-get install gimp xvfb (about 160 MB)"
  chroot "$ROOT" apt-get update -qq >&2 || die "apt-get update inside the chroot failed"
  chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends gimp xvfb xauth >&2 \
    || die "apt-get install gimp xvfb inside the chroot failed"
  chroot "$ROOT" apt-get clean
  unmount_all
fi

[ -x "$ROOT/usr/bin/gimp-console-3.0" ] || die "gimp-console-3.0 missing after the build"
[ -x "$ROOT/usr/bin/Xvfb" ] || die "Xvfb missing after the build"
touch "$READY"
log "ready"
echo "$ROOT"

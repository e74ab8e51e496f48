#!/bin/sh
# Build a minimal Python 3.11 base image from Debian packages only (debootstrap), for sites that
# cannot pull or mirror python:3.11-slim. Needs root, debootstrap and a Docker engine; the only
# network it touches is the Debian mirror (set MIRROR to the site's own mirror).
#
#   docker/base-image/build.sh kfp-quality-gates/python:3.11-bookworm
#   MIRROR=http://debian.mirror.internal/debian SUITE=bookworm docker/base-image/build.sh TAG
#
# The image holds python3 (3.11 on bookworm, matching the cp311 wheels of the wheelhouse),
# python3-venv and ca-certificates, and a virtual environment at /opt/venv that is first on PATH,
# so `python3 -m pip install` works without Debian's externally-managed-environment refusal.
set -eu

TAG=${1:?usage: build.sh IMAGE_TAG}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SUITE=${SUITE:-bookworm}
DOCKER=${DOCKER:-docker}

for tool in debootstrap "$DOCKER" tar; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "build.sh: '$tool' not found; install it (apt-get install debootstrap docker.io) and retry" >&2
        exit 2
    }
done
[ "$(id -u)" = 0 ] || { echo "build.sh: debootstrap needs root; run it with sudo" >&2; exit 2; }

WORK=$(mktemp -d /tmp/qg-base.XXXXXX)
ROOTFS="$WORK/rootfs"
# The rootfs holds device nodes and root-owned files: always remove it, even on failure.
trap 'rm -rf "$WORK"' EXIT INT TERM

# minbase: essential packages + apt only; the rest is named here so the image is reproducible
# from this list alone.
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    "$SUITE" "$ROOTFS" "$MIRROR"

# The venv uses the Debian interpreter; pip comes from the wheel Debian ships with python3-venv.
chroot "$ROOTFS" /usr/bin/python3 -m venv /opt/venv
chroot "$ROOTFS" /usr/bin/python3 --version

# Keep the image small: no apt lists or caches, docs, man pages, locales or bytecode caches.
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/* "$ROOTFS"/var/cache/debconf/*-old \
    "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/* \
    "$ROOTFS"/var/log/*.log "$ROOTFS"/var/log/apt/* "$ROOTFS"/tmp/* "$ROOTFS"/root/.cache
find "$ROOTFS"/usr/share/locale -mindepth 1 -maxdepth 1 ! -name 'locale.alias' -exec rm -rf {} +
find "$ROOTFS" -xdev -name __pycache__ -type d -prune -exec rm -rf {} +
# debootstrap leaves the build host's resolver config; the engine mounts its own at run time.
: > "$ROOTFS"/etc/resolv.conf
# A fresh machine-id per container, not the one generated here.
: > "$ROOTFS"/etc/machine-id

tar --numeric-owner -C "$ROOTFS" -c . | "$DOCKER" import \
    --change 'ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV PYTHONDONTWRITEBYTECODE=1' \
    --change 'ENV PYTHONUNBUFFERED=1' \
    --change 'CMD ["python3"]' \
    --message "debootstrap $SUITE minbase + python3 python3-venv ca-certificates from $MIRROR" \
    - "$TAG"

"$DOCKER" run --rm "$TAG" python3 -c 'import ssl, sys, venv; print("base image ok:", sys.version.split()[0], sys.prefix)'

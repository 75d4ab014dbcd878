#!/usr/bin/env bash
# Makes a plain Debian base image without any container registry: debootstrap a minimal Debian
# (no Python, no Java) into a scratch folder and `docker import` it. The image is reused when it
# exists already (FORCE=1 makes it anew). Needs root, a running Docker engine and debootstrap
# (installed from apt when missing). Then build the project's image on it:
#   docker/make-base-image.sh
#   docker build -f docker/Dockerfile --build-arg BASE_IMAGE=spark-deberta-base:bookworm -t spark-deberta .
#
# usage: docker/make-base-image.sh [IMAGE]          (default spark-deberta-base:bookworm)
# environment: SUITE (bookworm), MIRROR (http://deb.debian.org/debian),
#              SECURITY_MIRROR (http://deb.debian.org/debian-security), FORCE (0), TMPDIR
set -euo pipefail

image="${1:-spark-deberta-base:${SUITE:-bookworm}}"
suite="${SUITE:-bookworm}"
mirror="${MIRROR:-http://deb.debian.org/debian}"
security_mirror="${SECURITY_MIRROR:-http://deb.debian.org/debian-security}"

if [ "${FORCE:-0}" != 1 ] && docker image inspect "$image" >/dev/null 2>&1; then
    echo "make-base-image: $image exists; reusing it (FORCE=1 makes it anew)" >&2
    exit 0
fi
docker info >/dev/null 2>&1 || {
    echo "make-base-image: no Docker engine answers (start dockerd first)" >&2
    exit 1
}
if ! command -v debootstrap >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        echo "make-base-image: debootstrap is missing (apt-get install debootstrap, as root)" >&2
        exit 1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >&2 \
        || { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >&2; }
fi

rootfs="$(mktemp -d "${TMPDIR:-/var/tmp}/spark-deberta-rootfs.XXXXXX")"
cleanup() {
    # A failed debootstrap can leave /proc or /sys mounted inside the folder: unmount those first,
    # then delete without crossing into any other file system.
    local mounts
    mounts="$(awk -v root="$rootfs/" 'index($2, root) == 1 {print $2}' /proc/self/mounts | sort -r)"
    local mount
    for mount in $mounts; do umount -l "$mount" || true; done
    rm -rf --one-file-system "$rootfs"
}
trap cleanup EXIT

started=$SECONDS
echo "make-base-image: debootstrap $suite into $rootfs" >&2
debootstrap --variant=minbase "$suite" "$rootfs" "$mirror" >&2
cat >"$rootfs/etc/apt/sources.list" <<SOURCES
deb $mirror $suite main
deb $mirror $suite-updates main
deb $security_mirror $suite-security main
SOURCES
# Docker provides these at run time; the host's copies do not belong in an image.
rm -f "$rootfs/etc/hostname" "$rootfs/etc/resolv.conf"
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*

tar --numeric-owner -C "$rootfs" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["/bin/bash"]' \
    --message "debootstrap --variant=minbase $suite $mirror" - "$image" >/dev/null
echo "make-base-image: $image made in $((SECONDS - started)) s" >&2

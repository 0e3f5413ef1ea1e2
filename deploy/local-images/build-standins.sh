#!/usr/bin/env bash
# Builds, from Debian's packages only, stand-ins for the upstream images that deploy/ and the
# testcontainers fixtures use, for a machine that cannot reach an image registry:
#
#   localhost/azl-standin/debian:bookworm           debootstrap --variant=minbase, imported
#   localhost/azl-standin/python:3.11               python:3.11-slim
#   localhost/azl-standin/uv:$UV_VERSION            ghcr.io/astral-sh/uv (PyPI's uv wheel)
#   localhost/azl-standin/rabbitmq:3.10-management  rabbitmq:3.13-management
#   localhost/azl-standin/postgres:15               postgres:16
#   localhost/azl-standin/haproxy:2.6               haproxy:2.8
#   localhost/azl-standin/mailpit:stand-in          axllent/mailpit (SMTP :1025, API :8025)
#
# standin-images.env beside this script names them in the variables compose and the tests read
# (`docker compose --env-file deploy/local-images/standin-images.env ...`). An image whose
# recipe (this folder) has not changed since it was built is kept: a second run takes seconds.
# Docker users with registry access need none of this: the defaults are the upstream images.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ENGINE=${AZL_ENGINE:-podman}
MIRROR=${AZL_DEBIAN_MIRROR:-http://deb.debian.org/debian}
HOST_CA=${AZL_HOST_CA:-/etc/ssl/certs/ca-certificates.crt}
UV_VERSION=${AZL_STANDIN_UV_VERSION:-0.13.9}
PREFIX=localhost/azl-standin

log() { printf '[stand-ins %s] %s\n' "$(date +%T)" "$*" >&2; }

recipe() {  # the hash of what an image is built from (its folder, this script, the host CA)
  { cat "$0" "$HOST_CA"; [ -z "${1:-}" ] || find "$HERE/$1" -type f -print0 | sort -z | xargs -0 cat; } \
    | sha256sum | cut -c1-16
}

current() {  # image recipe -> 0 when the image exists and was built from that recipe
  [ "$("$ENGINE" image inspect --format '{{index .Labels "azl.recipe"}}' "$1" 2>/dev/null)" = "$2" ]
}

timed() {  # name command... : runs it, logs how long it took
  local name=$1 start=$SECONDS; shift
  "$@"
  log "$name built in $((SECONDS - start)) s"
}

build_base() {
  local image=$PREFIX/debian:bookworm hash root
  hash=$(recipe)
  if current "$image" "$hash"; then log "$image is current"; return; fi
  command -v debootstrap >/dev/null || { log "debootstrap is missing"; exit 1; }
  root=$(mktemp -d "${TMPDIR:-/var/tmp}/azl-debootstrap.XXXXXX")
  ROOTFS=$root
  trap 'rm -rf "$ROOTFS" "$ROOTFS.log"' EXIT
  debootstrap --variant=minbase bookworm "$root" "$MIRROR" >"$root.log" 2>&1 \
    || { tail -20 "$root.log" >&2; exit 1; }
  rm -f "$root.log"
  cat >"$root/etc/apt/sources.list" <<SOURCES
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb ${MIRROR%/debian}/debian-security bookworm-security main
SOURCES
  # downloads made inside builds go through this machine's certificate authority
  install -D -m 644 "$HOST_CA" "$root/usr/local/share/azl/host-ca-certificates.crt"
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
    >"$root/etc/apt/apt.conf.d/90azl-no-recommends"
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -c . | "$ENGINE" import --quiet \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV SSL_CERT_FILE=/usr/local/share/azl/host-ca-certificates.crt' \
    --change 'ENV DEBIAN_FRONTEND=noninteractive' \
    --change "LABEL azl.recipe=$hash" \
    --change 'CMD ["/bin/bash"]' - "$image" >/dev/null
  rm -rf "$root"
}

build() {  # folder tag [build-arg...]
  local folder=$1 image=$PREFIX/$2 hash args=(); shift 2
  hash=$(recipe "$folder")
  if current "$image" "$hash"; then log "$image is current"; return; fi
  for arg in "$@"; do args+=(--build-arg "$arg"); done
  "$ENGINE" build --quiet --label "azl.recipe=$hash" "${args[@]}" \
    --build-arg "BASE_IMAGE=$PREFIX/debian:bookworm" -t "$image" "$HERE/$folder" >/dev/null
}

timed "debian:bookworm" build_base
timed "python:3.11" build python python:3.11
timed "uv:$UV_VERSION" build uv "uv:$UV_VERSION" "PYTHON_IMAGE=$PREFIX/python:3.11" "UV_VERSION=$UV_VERSION"
timed "rabbitmq:3.10-management" build rabbitmq rabbitmq:3.10-management
timed "postgres:15" build postgres postgres:15
timed "haproxy:2.6" build haproxy haproxy:2.6
timed "mailpit:stand-in" build mail mailpit:stand-in
"$ENGINE" images --filter "reference=$PREFIX/*" --format '{{.Repository}}:{{.Tag}} {{.Size}}' >&2

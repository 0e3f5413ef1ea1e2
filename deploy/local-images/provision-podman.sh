#!/usr/bin/env bash
# A Docker-compatible container engine on a Debian machine without systemd or an image
# registry (what CI runs on): Debian's podman with runc, its Docker API on a Unix socket,
# and a poller that runs the containers' healthchecks (podman leaves that to systemd timers).
#
#   deploy/local-images/provision-podman.sh start   # install/configure if needed, start or reuse
#   deploy/local-images/provision-podman.sh env     # print `export DOCKER_HOST=...` to eval
#   deploy/local-images/provision-podman.sh status  # exit 0 when the API answers
#   deploy/local-images/provision-podman.sh stop    # stop the socket service and the poller
#
# Idempotent: what an earlier run left (packages, configuration, a running service, images)
# is reused. `stop` ends only the processes this script started (their pid files), never
# containers or images. State: $AZL_ENGINE_DIR (default /var/tmp/azl-engine).
set -euo pipefail

STATE=${AZL_ENGINE_DIR:-/var/tmp/azl-engine}
SOCKET="$STATE/podman.sock"
CONF=/etc/containers/containers.conf.d/50-azl.conf

log() { printf '[engine %s] %s\n' "$(date +%T)" "$*" >&2; }

alive() {  # pid file -> 0 when its process runs and is the command we started
  local pid
  [ -s "$1" ] || return 1
  pid=$(cat "$1")
  [ -d "/proc/$pid" ] && grep -qa "$2" "/proc/$pid/cmdline"
}

answers() { curl -sf --max-time 5 --unix-socket "$SOCKET" http://d/_ping >/dev/null 2>&1; }

install_packages() {
  local missing=()
  command -v runc >/dev/null 2>&1 || missing+=(runc)
  command -v podman >/dev/null 2>&1 || missing+=(podman)
  command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  [ ${#missing[@]} -eq 0 ] && return
  log "installing ${missing[*]}"
  # with their recommendations: netavark and aardvark-dns (containers reach each other by
  # name), catatonit, buildah (podman's builder); runc before podman, so crun is not pulled in
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 \
    || { apt-get update -qq && apt-get install -y -qq "${missing[@]}"; }
}

configure() {
  # crun fails here (cgroups v1 "hybrid mode"); the machine cannot raise resource limits, so
  # the default ulimits must stay at or below the hard limits.
  local nofile nproc wanted
  nofile=$(ulimit -Hn); [ "$nofile" = unlimited ] && nofile=1048576
  nproc=$(ulimit -Hu); [ "$nproc" = unlimited ] && nproc=1048576
  [ "$nofile" -gt 20000 ] && nofile=20000
  [ "$nproc" -gt 4096 ] && nproc=4096
  wanted=$(cat <<CONF
# written by deploy/local-images/provision-podman.sh
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]

[engine]
runtime = "runc"
CONF
)
  if [ "$(cat "$CONF" 2>/dev/null)" != "$wanted" ]; then
    log "writing $CONF"
    mkdir -p "$(dirname "$CONF")"
    printf '%s\n' "$wanted" >"$CONF"
  fi
}

start_service() {
  if alive "$STATE/service.pid" "system" && answers; then
    log "reusing the API service (pid $(cat "$STATE/service.pid"))"
    return
  fi
  rm -f "$SOCKET"
  log "starting podman system service on $SOCKET"
  setsid nohup podman system service --time=0 "unix://$SOCKET" \
    >>"$STATE/service.log" 2>&1 </dev/null &
  echo $! >"$STATE/service.pid"
  for _ in $(seq 1 60); do answers && return; sleep 0.5; done
  log "the API did not answer: $STATE/service.log"; tail -20 "$STATE/service.log" >&2
  return 1
}

start_poller() {
  if alive "$STATE/poller.pid" "healthcheck-poller"; then
    log "reusing the healthcheck poller (pid $(cat "$STATE/poller.pid"))"
    return
  fi
  log "starting the healthcheck poller"
  setsid nohup bash "$0" healthcheck-poller >>"$STATE/poller.log" 2>&1 </dev/null &
  echo $! >"$STATE/poller.pid"
}

# No systemd, so nothing runs the healthchecks: `depends_on: service_healthy` would wait
# forever. Every 2 s, each container still starting or unhealthy is checked; a healthy one
# every 10 s (the compose files' interval). The checks of one round run side by side: one
# after another, a few containers whose check hangs (a service restarting while the broker
# it waits for is not up) delayed every other container's check by minutes.
poll_healthchecks() {
  local round=0 id status
  while :; do
    while read -r id status; do
      [ -n "$id" ] || continue
      case "$status" in
        *"(healthy)"*) [ $((round % 5)) -eq 0 ] || continue ;;
        *"(starting)"* | *"(unhealthy)"*) ;;
        *) continue ;;  # no healthcheck
      esac
      timeout 15 podman healthcheck run "$id" >/dev/null 2>&1 &
    done < <(podman ps --format '{{.ID}} {{.Status}}' 2>/dev/null)
    wait
    round=$((round + 1))
    sleep 2
  done
}

stop_one() {
  local name=$1 pattern=$2 pid
  if alive "$STATE/$name.pid" "$pattern"; then
    pid=$(cat "$STATE/$name.pid")
    log "stopping the $name (pid $pid)"
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 20); do [ -d "/proc/$pid" ] || break; sleep 0.25; done
  fi
  rm -f "$STATE/$name.pid"
}

case "${1:-start}" in
  start)
    mkdir -p "$STATE"
    install_packages
    configure
    start_service
    start_poller
    podman info --format 'engine: podman {{.Version.Version}}, runtime {{.Host.OCIRuntime.Name}}, storage {{.Store.GraphDriverName}}' >&2
    echo "DOCKER_HOST=unix://$SOCKET"
    ;;
  env) echo "export DOCKER_HOST=unix://$SOCKET" ;;
  status) answers ;;
  stop)
    stop_one poller healthcheck-poller
    stop_one service system
    rm -f "$SOCKET"
    ;;
  healthcheck-poller) poll_healthchecks ;;
  *) echo "usage: $0 start|env|status|stop" >&2; exit 2 ;;
esac

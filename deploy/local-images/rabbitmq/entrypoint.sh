#!/bin/sh
# Starts the stand-in broker as user rabbitmq, with the configuration the container was given.
set -eu
# Settings that RabbitMQ 3.10 does not know (it would refuse to boot): newer than the
# stand-in, left out with a line in the log.
UNKNOWN_TO_3_10='^[[:space:]]*quorum_queue\.continuous_membership_reconciliation\.'
RUNTIME=/run/azl-rabbitmq
mkdir -p "$RUNTIME/conf.d"
keep_known() {  # file -> its copy under $RUNTIME without the unknown settings
  grep -E "$UNKNOWN_TO_3_10" "$1" | sed "s|^|[stand-in] RabbitMQ 3.10 ignores from $1: |" >&2 || true
  grep -vE "$UNKNOWN_TO_3_10" "$1" > "$2"
}
[ -f /etc/rabbitmq/rabbitmq.conf ] && keep_known /etc/rabbitmq/rabbitmq.conf "$RUNTIME/rabbitmq.conf"
touch "$RUNTIME/rabbitmq.conf"
for file in /etc/rabbitmq/conf.d/*.conf; do
  [ -f "$file" ] && keep_known "$file" "$RUNTIME/conf.d/$(basename "$file")"
done
{  # what the upstream image takes from the environment
  [ -n "${RABBITMQ_DEFAULT_USER:-}" ] && echo "default_user = $RABBITMQ_DEFAULT_USER"
  [ -n "${RABBITMQ_DEFAULT_PASS:-}" ] && echo "default_pass = $RABBITMQ_DEFAULT_PASS"
  [ -n "${RABBITMQ_DEFAULT_VHOST:-}" ] && echo "default_vhost = $RABBITMQ_DEFAULT_VHOST"
  true
} > "$RUNTIME/conf.d/90-environment.conf"
export RABBITMQ_CONFIG_FILE="$RUNTIME/rabbitmq.conf" RABBITMQ_CONFIG_FILES="$RUNTIME/conf.d"
unset RABBITMQ_DEFAULT_USER RABBITMQ_DEFAULT_PASS RABBITMQ_DEFAULT_VHOST
chown -R rabbitmq:rabbitmq /var/lib/rabbitmq "$RUNTIME"
cookie=/var/lib/rabbitmq/.erlang.cookie
if [ ! -s "$cookie" ]; then
  head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$cookie"
  chown rabbitmq:rabbitmq "$cookie"; chmod 400 "$cookie"
fi
configs="/etc/rabbitmq/rabbitmq.conf /etc/rabbitmq/conf.d/*.conf"
# shellcheck disable=SC2086
if [ "${1:-}" = rabbitmq-server ] && grep -qs '^[[:space:]]*cluster_formation\.' $configs \
  && grep -qsE "${UNKNOWN_TO_3_10}enabled[[:space:]]*=[[:space:]]*true" $configs; then
  # What that setting does on 3.13, for a node joining a cluster: every quorum queue (the
  # definitions declared them before this node joined) gets a member on it. Retried for a
  # few minutes, the time the cluster takes to form.
  (
    node="rabbit@$(hostname)"
    until rabbitmq-diagnostics -q check_running >/dev/null 2>&1; do sleep 2; done
    for _ in $(seq 1 20); do
      rabbitmq-queues -q grow "$node" all >/dev/null 2>&1 || true
      sleep 15
    done
  ) &
fi
if [ "${1:-}" = rabbitmq-server ]; then
  exec setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups "$@"
fi
exec "$@"

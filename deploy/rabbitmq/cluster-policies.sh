#!/bin/sh
# The policies a RabbitMQ cluster of this platform needs (docs/operations.md, "A broker cluster").
# The delay queues (jobs.delay.*) are classic queues (RabbitMQ 3.10 quorum queues have no
# per-message TTL), and a classic queue lives on one node: mirror them on two nodes, so that a
# retry waiting in one survives its node, and a service can still declare them while it is down.
# Every other queue is a quorum queue, replicated by itself.
# Usage: RABBITMQCTL="rabbitmqctl -n rabbit@rabbitmq-1" sh deploy/rabbitmq/cluster-policies.sh [vhost]
set -eu
${RABBITMQCTL:-rabbitmqctl} set_policy -p "${1:-/}" --apply-to queues --priority 1 \
  jobs-delay-mirrored '^jobs\.delay\.' '{"ha-mode":"exactly","ha-params":2,"ha-sync-mode":"automatic"}'

#!/usr/bin/env bash
# Multi-node launch of `youtu-embed train` with torchrun (c10d rendezvous). Run the same command
# on every node; each node starts one process per GPU.
#
#   NNODES=2 NODE_RANK=0 MASTER_ADDR=node0 packages/train/scripts/torchrun_multinode.sh CONFIG.yaml [--option value ...]
#   NNODES=2 NODE_RANK=1 MASTER_ADDR=node0 packages/train/scripts/torchrun_multinode.sh CONFIG.yaml [--option value ...]
#
# Environment: NNODES (required), NODE_RANK (required: 0 .. NNODES-1), MASTER_ADDR (required: node 0's
# address, reachable from every node), MASTER_PORT (29500), NPROC_PER_NODE (gpu = one process per
# visible GPU), RDZV_BACKEND (c10d, or static), RDZV_ID (youtu-train: the same on every node of one
# job, different per job), RDZV_TIMEOUT (900 s for every node to join), MAX_RESTARTS (0), LOCAL_ADDR
# (this node's address as the others reach it; default: torchrun's guess from the host name).
# c10d (default): node 0 hosts the rendezvous store (is_host); the rendezvous numbers the nodes in
# the order they join (torchrun ignores --node-rank there) and survives a late node. static: ranks
# are exactly NODE_RANK and every node must start. Set NCCL_SOCKET_IFNAME / NCCL_IB_HCA for your network.
set -euo pipefail
: "${NNODES:?set NNODES (number of nodes)}"
: "${NODE_RANK:?set NODE_RANK (0 .. NNODES-1)}"
: "${MASTER_ADDR:?set MASTER_ADDR (address of node 0)}"
if [ "$#" -lt 1 ]; then
  echo "usage: $0 CONFIG.yaml [--option value ...]" >&2
  exit 2
fi
YOUTU_EMBED="$(command -v youtu-embed)" || { echo "error: youtu-embed not on PATH (activate the venv)" >&2; exit 2; }
PORT="${MASTER_PORT:-29500}"
case "${RDZV_BACKEND:-c10d}" in
  c10d)
    IS_HOST=0
    if [ "$NODE_RANK" = "0" ]; then IS_HOST=1; fi
    RDZV=(--rdzv-backend c10d --rdzv-endpoint "$MASTER_ADDR:$PORT" --rdzv-id "${RDZV_ID:-youtu-train}"
          --rdzv-conf "is_host=${IS_HOST},join_timeout=${RDZV_TIMEOUT:-900}")
    ;;
  static)
    RDZV=(--rdzv-backend static --node-rank "$NODE_RANK" --master-addr "$MASTER_ADDR" --master-port "$PORT")
    ;;
  *)
    echo "error: RDZV_BACKEND: unknown '${RDZV_BACKEND}' (allowed: c10d, static)" >&2
    exit 2
    ;;
esac
if [ -n "${LOCAL_ADDR:-}" ]; then RDZV+=(--local-addr "$LOCAL_ADDR"); fi
exec torchrun \
  --nnodes "$NNODES" \
  --nproc-per-node "${NPROC_PER_NODE:-gpu}" \
  "${RDZV[@]}" \
  --max-restarts "${MAX_RESTARTS:-0}" \
  --no-python "$YOUTU_EMBED" train "$@"

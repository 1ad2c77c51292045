#!/usr/bin/env bash
# An mtp-spark job on Kubernetes with plain `spark-submit --master k8s://…` (no operator): cluster deploy mode,
# the image of Dockerfile / Dockerfile.cuda, the pod templates beside this script, spark.authenticate with the
# secret from the Kubernetes Secret mtp-spark-auth (mounted as a file by the templates), and the memory, Kryo and
# GPU settings of deploy/bin/mtp-common.sh.
#
# Usage: deploy/kubernetes/submit-k8s.sh [--print-command] tokenize|train|evaluate|generate|charts|pipeline [job args…]
#   K8S_MASTER=k8s://https://kubernetes.example.com:6443 deploy/kubernetes/submit-k8s.sh train \
#     --config hdfs://namenode:8020/mtp/conf/train.yaml --set run.output=hdfs://namenode:8020/mtp/runs/corpus
# Environment: K8S_MASTER (required unless printing), MTP_NAMESPACE (mtp), MTP_IMAGE
#   (registry.example.com/mtp-spark:0.1.0, or …-cuda11.6 with MTP_GPUS_PER_EXECUTOR > 0), MTP_SERVICE_ACCOUNT
#   (spark), MTP_NUM_EXECUTORS (4), MTP_EXECUTOR_CORES (4), MTP_GPUS_PER_EXECUTOR (0), and mtp-common.sh's.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../bin/mtp-common.sh
source "$here/../bin/mtp-common.sh"

print=()
if [ "${1:-}" = "--print-command" ]; then print=(--print-command); shift; fi
[ $# -ge 1 ] || mtp_die "usage: submit-k8s.sh [--print-command] <subcommand> [job arguments…]"
subcommand="$1"; shift

gpus="${MTP_GPUS_PER_EXECUTOR:-0}"
if [ "$gpus" != 0 ]; then
  image="${MTP_IMAGE:-registry.example.com/mtp-spark:0.1.0-cuda11.6}"
  # In the image (Dockerfile.cuda); nothing is shipped with --files on Kubernetes.
  export MTP_GPU_DISCOVERY_SCRIPT="${MTP_GPU_DISCOVERY_SCRIPT:-/opt/mtp/bin/getGpusResources.sh}"
else
  image="${MTP_IMAGE:-registry.example.com/mtp-spark:0.1.0}"
fi
if [ -z "${K8S_MASTER:-}" ] && [ ${#print[@]} -eq 0 ] && [ "${MTP_DRY_SUBMIT:-0}" != 1 ]; then
  mtp_die "set K8S_MASTER, e.g. k8s://https://kubernetes.example.com:6443"
fi
export MTP_MASTER="${K8S_MASTER:-k8s://https://kubernetes.default.svc:443}"
export MTP_DEPLOY_MODE=cluster
export MTP_APP_JAR="${MTP_APP_JAR:-local:///opt/mtp/mtp-spark-app.jar}"
export MTP_NUM_EXECUTORS="${MTP_NUM_EXECUTORS:-4}"
export MTP_EXECUTOR_CORES="${MTP_EXECUTOR_CORES:-4}"

MTP_EXTRA_SUBMIT_ARGS=(
  --conf "spark.kubernetes.namespace=${MTP_NAMESPACE:-mtp}"
  --conf "spark.kubernetes.container.image=$image"
  --conf spark.kubernetes.container.image.pullPolicy=IfNotPresent
  --conf "spark.kubernetes.authenticate.driver.serviceAccountName=${MTP_SERVICE_ACCOUNT:-spark}"
  --conf "spark.kubernetes.driver.podTemplateFile=$here/driver-pod-template.yaml"
  --conf "spark.kubernetes.executor.podTemplateFile=$here/executor-pod-template.yaml"
  --conf "spark.kubernetes.executor.podNamePrefix=mtp-$subcommand"
  --conf spark.authenticate=true
  --conf spark.network.crypto.enabled=true
  --conf spark.authenticate.secret.driver.file=/etc/mtp/spark-auth/secret
  --conf spark.authenticate.secret.executor.file=/etc/mtp/spark-auth/secret
)
if [ "$gpus" != 0 ]; then
  MTP_EXTRA_SUBMIT_ARGS+=(--conf spark.executor.resource.gpu.vendor=nvidia.com)
fi
mtp_submit "$subcommand" "${print[@]}" "$@"

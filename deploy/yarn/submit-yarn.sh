#!/usr/bin/env bash
# An mtp-spark job on YARN: spark-submit --properties-file deploy/yarn/spark-defaults.conf (master yarn, cluster
# deploy mode, Kryo, GPUs, ND4J-aware memory) with the application jar on HDFS, plus the settings of
# deploy/bin/mtp-common.sh (the memory env vars override the file's values).
#
# Usage: deploy/yarn/submit-yarn.sh [--print-command] tokenize|train|evaluate|… [job args…]
#   deploy/yarn/submit-yarn.sh train --config hdfs:///mtp/conf/gpu-cluster.yaml
# Environment: MTP_APP_JAR (default hdfs:///mtp/lib/mtp-spark-app.jar), MTP_GPUS_PER_EXECUTOR (default 1;
#   0 = CPU executors), MTP_YARN_QUEUE, MTP_PROPERTIES_FILE (default: spark-defaults.conf beside this script),
#   HADOOP_CONF_DIR / YARN_CONF_DIR (as for any spark-submit on YARN), and mtp-common.sh's.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../bin/mtp-common.sh
source "$here/../bin/mtp-common.sh"

print=()
if [ "${1:-}" = "--print-command" ]; then print=(--print-command); shift; fi
[ $# -ge 1 ] || mtp_die "usage: submit-yarn.sh [--print-command] <subcommand> [job arguments…]"
subcommand="$1"; shift

export MTP_MASTER=yarn
export MTP_DEPLOY_MODE="${MTP_DEPLOY_MODE:-cluster}"
export MTP_APP_JAR="${MTP_APP_JAR:-hdfs:///mtp/lib/mtp-spark-app.jar}"
# Ships deploy/gpu/getGpusResources.sh with --files (YARN localizes it executable) and runs ./getGpusResources.sh.
export MTP_GPUS_PER_EXECUTOR="${MTP_GPUS_PER_EXECUTOR:-1}"
MTP_EXTRA_SUBMIT_ARGS=(--properties-file "${MTP_PROPERTIES_FILE:-$here/spark-defaults.conf}")
if [ -n "${MTP_YARN_QUEUE:-}" ]; then MTP_EXTRA_SUBMIT_ARGS+=(--queue "$MTP_YARN_QUEUE"); fi
if [ "$MTP_GPUS_PER_EXECUTOR" = 0 ]; then
  # The properties file asks for GPUs; a CPU run must undo that on the command line.
  MTP_EXTRA_SUBMIT_ARGS+=(--conf spark.executor.resource.gpu.amount=0 --conf spark.task.resource.gpu.amount=0)
fi
mtp_submit "$subcommand" "${print[@]}" "$@"

#!/usr/bin/env bash
# Local training-step time (plain MtpModel.fit, no Spark): n = 1 vs n = 4 (parameter-matched and not),
# interleaved, median and spread of per-step time. See docs/performance.md.
# Usage: benchmarks/train-step.sh [steps=30] [warmup=5] [large-steps=0] [large-warmup=2]
#   → prints the tables, writes benchmarks/results/train-step.json
set -euo pipefail
cd "$(dirname "$0")/.."
export MAVEN_OPTS="${MAVEN_OPTS:-} -Djansi.passthrough=false"
mvn -B -q -o -DskipTests install -pl core,spark-jobs -am
CP_FILE=$(mktemp)
mvn -B -q -o -pl spark-jobs dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile="$CP_FILE"
OPENS=$(mvn -B -q -o help:evaluate -Dexpression=java17.opens -DforceStdout -Dstyle.color=never | sed "s/\x1b\[[0-9;]*m//g")
# shellcheck disable=SC2086
java -Xmx6g $OPENS -Dlog4j2.configurationFile="$PWD/spark-jobs/src/main/resources/mtp-log4j2.properties" \
  -cp "spark-jobs/target/classes:$(cat "$CP_FILE")" \
  dev.mtpspark.spark.bench.TrainStepBenchmark benchmarks/results/train-step.json "$@"
rm -f "$CP_FILE"

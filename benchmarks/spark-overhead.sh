#!/usr/bin/env bash
# Spark overhead: the same training tokens for the n = 4 shakespeare-char recipe model with plain local fit,
# through TrainJob on local[1] (1 worker) and on local[2] (2 workers). See docs/performance.md.
# Usage: benchmarks/spark-overhead.sh [steps=120] [local1-averaging-frequencies=20,40] [local2-averaging-frequencies=20]
#   → prints the table, writes benchmarks/results/spark-overhead.json
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
  dev.mtpspark.spark.bench.SparkOverheadBenchmark ../shared/corpora/tinyshakespeare.txt benchmarks/results/spark-overhead.json "$@"
rm -f "$CP_FILE"

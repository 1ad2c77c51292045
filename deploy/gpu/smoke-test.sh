#!/usr/bin/env bash
# GPU smoke test of the CUDA build (NOT RUN YET: no GPU run has been made; see docs/gpu.md).
# Builds the application jar with -Pcuda, then trains for about a minute on one GPU in Spark local mode, with the
# application jar on the class path, and prints the ND4J backend, the device, tokens/s and the per-horizon loss.
#
# Usage (from anywhere; needs an NVIDIA GPU + driver, Java 17, Maven, network access to Maven Central once):
#   deploy/gpu/smoke-test.sh                 # tiny Shakespeare from ../shared/corpora, or MTP_SMOKE_CORPUS=file
# Environment: MTP_SMOKE_STEPS (default 200), MTP_SMOKE_TIMEOUT (s, default 900), MTP_SMOKE_DIR (work dir,
#   default target/gpu-smoke), MTP_SMOKE_SKIP_BUILD=1 (reuse the jar), CUDA_VISIBLE_DEVICES (which GPU).
# The CUDA 11.6 + cuDNN 8.3 runtime comes from the org.bytedeco:cuda redist jar in ~/.m2 (resolved by the -Pcuda
# build) unless MTP_CUDA_REDIST=none, when the system's CUDA 11.6 libraries are used.
# Exit: 0 when training ran on the CUDA backend and the loss is finite; 1 otherwise.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# shellcheck source=../bin/mtp-common.sh
source "$root/deploy/bin/mtp-common.sh"    # Spark's Java 17 flags (MTP_JAVA17_OPENS)
cd "$root"

work="${MTP_SMOKE_DIR:-$root/target/gpu-smoke}"
steps="${MTP_SMOKE_STEPS:-200}"
corpus="${MTP_SMOKE_CORPUS:-$root/../shared/corpora/tinyshakespeare.txt}"
mkdir -p "$work"
log="$work/smoke.log"

echo "== GPU"
nvidia-smi --query-gpu=index,name,compute_cap,driver_version,memory.total --format=csv
echo "note: H100/H200 are sm_90 (compute capability 9.0); CUDA 11.6 predates Hopper, so ND4J's kernels can only run"
echo "      there if libnd4jcuda carries PTX the driver can JIT-compile for sm_90. This run is what finds out."

if [ "${MTP_SMOKE_SKIP_BUILD:-0}" != 1 ]; then
  echo "== build (mvn -Pcuda -DskipTests package -pl app -am; a CPU build in target/ is replaced)"
  mvn -B -q -Pcuda -DskipTests clean package -pl app -am
fi
jar="$root/app/target/mtp-spark-app.jar"
unzip -l "$jar" | grep -q 'org/nd4j/linalg/jcublas/' || { echo "smoke-test: $jar is not a CUDA build" >&2; exit 1; }

echo "== Spark runtime class path"
mvn -B -q -f app/spark-runtime/pom.xml -P '!cpu' dependency:build-classpath \
  -Dmdep.includeScope=runtime -Dmdep.outputFile="$work/spark-classpath"
cp="$jar:$(cat "$work/spark-classpath")"
redist="${MTP_CUDA_REDIST:-$HOME/.m2/repository/org/bytedeco/cuda/11.6-8.3-1.5.7/cuda-11.6-8.3-1.5.7-linux-x86_64-redist.jar}"
if [ "$redist" != none ]; then
  [ -f "$redist" ] || mvn -B -q dependency:get -Dartifact=org.bytedeco:cuda:11.6-8.3-1.5.7:jar:linux-x86_64-redist
  cp="$cp:$redist"
fi

jvm=(java -Xmx8g $MTP_JAVA17_OPENS -Dorg.bytedeco.javacpp.maxbytes=16g -Dorg.bytedeco.javacpp.maxphysicalbytes=32g
     -Dspark.master='local[1]' -Dspark.ui.enabled=false -cp "$cp" dev.mtpspark.spark.MtpCli)

echo "== tokenize $corpus (char, T = 256, n = 4)"
"${jvm[@]}" tokenize --input "$corpus" --tokenizer char --context-length 256 --predicted-tokens 4 \
  --output "$work/dataset" --overwrite >"$log" 2>&1 || { tail -40 "$log"; exit 1; }

cat >"$work/train.yaml" <<YAML
# ~10M-parameter MTP model (6 blocks = 2 trunk + 4 heads, 384 wide): the nanoGPT shakespeare-char GPU recipe, shorter.
run: {output: $work/run, seed: 1337}
data: {dataset: $work/dataset}
model: {context-length: 256, predicted-tokens: 4, model-width: 384, attention-heads: 6, trunk-depth: 2, mlp-width: 1536}
optimizer: {learning-rate: 1.0e-3, min-learning-rate: 1.0e-4, warmup-steps: 20}
training: {steps: $steps, batch-size-per-worker: 32, workers: 1, averaging-frequency: 10, approach: direct, train-metrics-every: 10}
evaluation: {every-steps: $steps, max-windows: 512, batch-size: 32}
logging: {every-steps: 10}
checkpoint: {every-steps: $steps, keep: 1}
YAML

echo "== train $steps steps on one GPU (Spark local[1])"
set +e
timeout "${MTP_SMOKE_TIMEOUT:-900}" "${jvm[@]}" train --config "$work/train.yaml" --overwrite >>"$log" 2>&1
rc=$?
set -e

echo "== result (full log: $log)"
grep -E "Loaded \[.*\] backend|Backend used|Device Name|CUDA|cuDNN|Blas vendor" "$log" | sort -u | head -20 || true
grep -E "^step .*tok/s" "$log" | tail -5 || true
sed -n '/train: done/,$p' "$log" | head -20
if [ "$rc" -ne 0 ]; then
  echo "smoke-test: train exited $rc" >&2
  grep -iE "error|exception|cuda" "$log" | head -20 >&2 || true
  exit 1
fi
grep -q "JCublasBackend\|Backend used: \[CUDA\]" "$log" || { echo "smoke-test: ND4J did not load the CUDA backend" >&2; exit 1; }
grep -qiE "h1 +nan|h1 +inf" "$log" && { echo "smoke-test: loss is not finite" >&2; exit 1; }
echo "smoke-test: OK"

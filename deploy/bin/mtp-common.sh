# shellcheck shell=bash
# Shared by deploy/bin/mtp-tokenize, mtp-train and mtp-evaluate: builds and runs (or prints) the spark-submit
# command line of one mtp-spark job. Sourced, not run. See docs/deploy.md.
#
# Environment (all optional):
#   SPARK_HOME                 spark-submit is $SPARK_HOME/bin/spark-submit, else the one on PATH
#   MTP_APP_JAR                application jar (default: <repo>/app/target/mtp-spark-app.jar; hdfs://, local:// ok)
#   MTP_MASTER                 --master (default: none, i.e. spark-defaults.conf or spark-submit's own default)
#   MTP_DEPLOY_MODE            --deploy-mode client|cluster (default: none)
#   MTP_DRIVER_MEMORY          driver JVM heap (default 4g)
#   MTP_DRIVER_OFFHEAP         driver ND4J off-heap limit, -Dorg.bytedeco.javacpp.maxbytes (default 4g)
#   MTP_EXECUTOR_MEMORY        executor JVM heap, spark.executor.memory (default 8g)
#   MTP_EXECUTOR_OFFHEAP       executor ND4J off-heap limit, -Dorg.bytedeco.javacpp.maxbytes (default 8g)
#   MTP_JVM_OVERHEAD           non-heap memory of a JVM besides ND4J (metaspace, threads, Netty, native libs);
#                              default max(1g, 10% of heap + off-heap)
#   MTP_EXECUTOR_CORES         spark.executor.cores (default: none)
#   MTP_NUM_EXECUTORS          spark.executor.instances (default: none)
#   MTP_GPUS_PER_EXECUTOR      >0: GPU scheduling, spark.executor.resource.gpu.amount and one GPU per task
#   MTP_GPU_DISCOVERY_SCRIPT   spark.executor.resource.gpu.discoveryScript (default: ship deploy/gpu/getGpusResources.sh
#                              with --files and run it as ./getGpusResources.sh, which works on YARN)
#   MTP_EXTRA_JARS             --jars, e.g. the CUDA redist jar for a -Pcuda application jar
#   MTP_DRIVER_JAVA_OPTS       appended to spark.driver.extraJavaOptions
#   MTP_EXECUTOR_JAVA_OPTS     appended to spark.executor.extraJavaOptions
#   MTP_OMP_WAIT_POLICY        OpenMP wait policy of executors and a client-mode driver (default: passive; ND4J's
#                              threads otherwise busy-wait between operations, 1.8x slower steps measured on 2 cores)
#   MTP_MALLOC_MMAP_THRESHOLD  glibc mmap threshold in bytes for executors and a client-mode driver (default: unset,
#                              glibc's own); 1048576 can lower resident memory at large vocabularies
#   MTP_ADD_OPENS=1            also put Spark's Java 17 --add-opens flags into both extraJavaOptions (only needed with
#                              a launcher other than a Spark 3.3+ distribution's spark-submit, which adds them itself)
#   MTP_SUBMIT_OPTS            more spark-submit options, split on spaces, placed after ours (a later --conf of the
#                              same key wins). Not SPARK_SUBMIT_OPTS: that one is Spark's, for the launcher's JVM.
#   MTP_DRY_SUBMIT=1           print the command line instead of running it (same as a first argument --print-command)
#
# Memory: ND4J keeps every array off the Java heap (JavaCPP), so a container needs heap + ND4J off-heap + JVM
# overhead. The scripts set, per JVM:
#   -Dorg.bytedeco.javacpp.maxbytes         = OFFHEAP
#   -Dorg.bytedeco.javacpp.maxphysicalbytes = HEAP + OFFHEAP + OVERHEAD/2   (JavaCPP frees/fails before the kill)
#   spark.{driver,executor}.memoryOverhead  = OFFHEAP + OVERHEAD            (container = HEAP + this)
#   spark.executorEnv.MALLOC_MMAP_THRESHOLD_ = MTP_MALLOC_MMAP_THRESHOLD, when set
#     glibc otherwise raises its mmap threshold to 32 MiB after the first large free and keeps freed mid-sized
#     ND4J arrays in its arenas; with many short-lived head arrays that grows resident memory with n
#     (docs/performance.md).

MTP_MAIN_CLASS_DEFAULT=dev.mtpspark.spark.MtpCli
MTP_KRYO_REGISTRATORS=org.nd4j.kryo.Nd4jRegistrator,dev.mtpspark.spark.MtpKryoRegistrator
# Spark 3.5's JavaModuleOptions (spark-launcher), which the parent pom's java17.opens property also lists.
MTP_JAVA17_OPENS="-XX:+IgnoreUnrecognizedVMOptions --add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.lang.invoke=ALL-UNNAMED --add-opens=java.base/java.lang.reflect=ALL-UNNAMED --add-opens=java.base/java.io=ALL-UNNAMED --add-opens=java.base/java.net=ALL-UNNAMED --add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/java.util=ALL-UNNAMED --add-opens=java.base/java.util.concurrent=ALL-UNNAMED --add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED --add-opens=java.base/jdk.internal.ref=ALL-UNNAMED --add-opens=java.base/sun.nio.ch=ALL-UNNAMED --add-opens=java.base/sun.nio.cs=ALL-UNNAMED --add-opens=java.base/sun.security.action=ALL-UNNAMED --add-opens=java.base/sun.util.calendar=ALL-UNNAMED --add-opens=java.security.jgss/sun.security.krb5=ALL-UNNAMED -Djdk.reflect.useDirectMethodHandle=false -Dio.netty.tryReflectionSetAccessible=true"

mtp_die() {
  echo "$(basename "$0"): $*" >&2
  exit 2
}

# Fails (in this shell, not a subshell) unless $2 is a Spark/JVM size; $1 names the variable.
mtp_check_size() {
  [[ "${2,,}" =~ ^[0-9]+[kmgt]?b?$ ]] || mtp_die "$1 = '$2' is not a memory size (use e.g. 512m or 8g)"
}

# A Spark/JVM size (512m, 8g, 1t, 4096k, plain bytes) in MiB, rounded up.
mtp_mib() {
  local v="${1,,}" n unit
  [[ "$v" =~ ^([0-9]+)([kmgt]?)b?$ ]] || mtp_die "not a memory size: '$1' (use e.g. 512m or 8g)"
  n="${BASH_REMATCH[1]}"
  unit="${BASH_REMATCH[2]}"
  case "$unit" in
    k) echo $(( (n + 1023) / 1024 )) ;;
    m) echo "$n" ;;
    g) echo $(( n * 1024 )) ;;
    t) echo $(( n * 1024 * 1024 )) ;;
    "") echo $(( (n + 1048575) / 1048576 )) ;;
  esac
}

# A word as POSIX shell input: unchanged when it is safe, else in single quotes.
mtp_quote() {
  if [[ "$1" =~ ^[A-Za-z0-9_./:=,+@%-]+$ ]]; then
    printf '%s' "$1"
  else
    printf "'%s'" "${1//\'/\'\\\'\'}"
  fi
}

# Prints "overheadMiB maxphysicalMiB" for a heap and an ND4J off-heap size.
mtp_memory() {
  local heap off extra
  heap="$(mtp_mib "$1")"
  off="$(mtp_mib "$2")"
  if [ -n "${MTP_JVM_OVERHEAD:-}" ]; then
    extra="$(mtp_mib "$MTP_JVM_OVERHEAD")"
  else
    extra=$(( (heap + off + 9) / 10 ))
    [ "$extra" -lt 1024 ] && extra=1024
  fi
  echo "$(( off + extra )) $(( heap + off + extra / 2 ))"
}

# mtp_submit SUBCOMMAND [--print-command] [job arguments...]
mtp_submit() {
  local subcommand="$1"
  shift
  local print="${MTP_DRY_SUBMIT:-0}"
  if [ "${1:-}" = "--print-command" ]; then
    print=1
    shift
  fi
  [ "$print" = "true" ] && print=1

  local here repo
  here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
  repo="$(cd "$here/../.." && pwd)"

  local submit
  if [ -n "${SPARK_HOME:-}" ]; then
    submit="$SPARK_HOME/bin/spark-submit"
  elif command -v spark-submit >/dev/null 2>&1; then
    submit="$(command -v spark-submit)"
  elif [ "$print" = 1 ]; then
    submit=spark-submit
  else
    mtp_die "spark-submit not found: set SPARK_HOME or put a Spark 3.5 distribution's bin/ on PATH"
  fi

  local jar="${MTP_APP_JAR:-$repo/app/target/mtp-spark-app.jar}"
  if [ "$print" != 1 ] && [[ "$jar" != *://* ]] && [ ! -f "$jar" ]; then
    mtp_die "application jar $jar not found: build it with 'mvn -B -DskipTests package -pl app -am' or set MTP_APP_JAR"
  fi

  local driver_heap="${MTP_DRIVER_MEMORY:-4g}" driver_off="${MTP_DRIVER_OFFHEAP:-4g}"
  local exec_heap="${MTP_EXECUTOR_MEMORY:-8g}" exec_off="${MTP_EXECUTOR_OFFHEAP:-8g}"
  mtp_check_size MTP_DRIVER_MEMORY "$driver_heap"
  mtp_check_size MTP_DRIVER_OFFHEAP "$driver_off"
  mtp_check_size MTP_EXECUTOR_MEMORY "$exec_heap"
  mtp_check_size MTP_EXECUTOR_OFFHEAP "$exec_off"
  [ -n "${MTP_JVM_OVERHEAD:-}" ] && mtp_check_size MTP_JVM_OVERHEAD "$MTP_JVM_OVERHEAD"
  local d_over d_phys e_over e_phys
  read -r d_over d_phys <<<"$(mtp_memory "$driver_heap" "$driver_off")"
  read -r e_over e_phys <<<"$(mtp_memory "$exec_heap" "$exec_off")"

  local opens=""
  [ "${MTP_ADD_OPENS:-0}" = 1 ] && opens="$MTP_JAVA17_OPENS "
  local driver_java="${opens}-Dorg.bytedeco.javacpp.maxbytes=$(mtp_mib "$driver_off")m -Dorg.bytedeco.javacpp.maxphysicalbytes=${d_phys}m${MTP_DRIVER_JAVA_OPTS:+ $MTP_DRIVER_JAVA_OPTS}"
  local exec_java="${opens}-Dorg.bytedeco.javacpp.maxbytes=$(mtp_mib "$exec_off")m -Dorg.bytedeco.javacpp.maxphysicalbytes=${e_phys}m${MTP_EXECUTOR_JAVA_OPTS:+ $MTP_EXECUTOR_JAVA_OPTS}"

  local -a cmd=("$submit")
  [ -n "${MTP_MASTER:-}" ] && cmd+=(--master "$MTP_MASTER")
  [ -n "${MTP_DEPLOY_MODE:-}" ] && cmd+=(--deploy-mode "$MTP_DEPLOY_MODE")
  cmd+=(--name "mtp-$subcommand" --class "${MTP_MAIN_CLASS:-$MTP_MAIN_CLASS_DEFAULT}")
  cmd+=(--driver-memory "$driver_heap" --executor-memory "$exec_heap")
  [ -n "${MTP_EXECUTOR_CORES:-}" ] && cmd+=(--conf "spark.executor.cores=$MTP_EXECUTOR_CORES")
  [ -n "${MTP_NUM_EXECUTORS:-}" ] && cmd+=(--conf "spark.executor.instances=$MTP_NUM_EXECUTORS")
  cmd+=(--conf spark.serializer=org.apache.spark.serializer.KryoSerializer
        --conf "spark.kryo.registrator=$MTP_KRYO_REGISTRATORS"
        --conf "spark.driver.memoryOverhead=${d_over}m"
        --conf "spark.executor.memoryOverhead=${e_over}m"
        --conf "spark.driver.extraJavaOptions=$driver_java"
        --conf "spark.executor.extraJavaOptions=$exec_java")
  local wait_policy="${MTP_OMP_WAIT_POLICY:-passive}"
  case "$wait_policy" in
    passive|active|PASSIVE|ACTIVE) ;;
    *) mtp_die "MTP_OMP_WAIT_POLICY must be passive or active, not '$wait_policy'" ;;
  esac
  cmd+=(--conf "spark.executorEnv.OMP_WAIT_POLICY=$wait_policy")
  export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-$wait_policy}"   # a client-mode driver is this script's child
  local malloc_threshold="${MTP_MALLOC_MMAP_THRESHOLD:-}"
  if [ -n "$malloc_threshold" ]; then
    [[ "$malloc_threshold" =~ ^[0-9]+$ ]] || mtp_die "MTP_MALLOC_MMAP_THRESHOLD must be a number of bytes, not '$malloc_threshold'"
    cmd+=(--conf "spark.executorEnv.MALLOC_MMAP_THRESHOLD_=$malloc_threshold")
    # A client-mode driver is this script's child; the same setting for it.
    export MALLOC_MMAP_THRESHOLD_="${MALLOC_MMAP_THRESHOLD_:-$malloc_threshold}"
  fi
  local gpus="${MTP_GPUS_PER_EXECUTOR:-0}"
  [[ "$gpus" =~ ^[0-9]+$ ]] || mtp_die "MTP_GPUS_PER_EXECUTOR must be a whole number, not '$gpus'"
  if [ "$gpus" -gt 0 ]; then
    local discovery="${MTP_GPU_DISCOVERY_SCRIPT:-}"
    if [ -z "$discovery" ]; then
      cmd+=(--files "$repo/deploy/gpu/getGpusResources.sh")
      discovery=./getGpusResources.sh
    fi
    cmd+=(--conf "spark.executor.resource.gpu.amount=$gpus"
          --conf spark.task.resource.gpu.amount=1
          --conf "spark.executor.resource.gpu.discoveryScript=$discovery")
  fi
  [ -n "${MTP_EXTRA_JARS:-}" ] && cmd+=(--jars "$MTP_EXTRA_JARS")
  # Set (as a bash array) by scripts that source this file: deploy/kubernetes/submit-k8s.sh, deploy/yarn/submit-yarn.sh.
  if [ -n "${MTP_EXTRA_SUBMIT_ARGS+x}" ]; then
    cmd+=("${MTP_EXTRA_SUBMIT_ARGS[@]}")
  fi
  if [ -n "${MTP_SUBMIT_OPTS:-}" ]; then
    local -a extra
    set -f
    # shellcheck disable=SC2206
    extra=($MTP_SUBMIT_OPTS)
    set +f
    cmd+=("${extra[@]}")
  fi
  cmd+=("$jar" "$subcommand" "$@")

  if [ "$print" = 1 ]; then
    local arg line=""
    for arg in "${cmd[@]}"; do
      line+="${line:+ }$(mtp_quote "$arg")"
    done
    printf '%s\n' "$line"
    return 0
  fi
  exec "${cmd[@]}"
}

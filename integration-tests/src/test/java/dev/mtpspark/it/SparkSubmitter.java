package dev.mtpspark.it;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Submits the application jar to the standalone cluster the way users do: {@code org.apache.spark.deploy.SparkSubmit}
 * in a JVM of its own (client deploy mode, so that JVM is the driver), {@code --class dev.mtpspark.spark.MtpCli},
 * the assembled jar and the subcommand's arguments.
 */
final class SparkSubmitter {
    /** ND4J's off-heap limits for the driver and the executors (their heaps are 1 GB). */
    static final String ND4J_MEMORY = "-Dorg.bytedeco.javacpp.maxbytes=1G -Dorg.bytedeco.javacpp.maxphysicalbytes=3G";

    private final SparkStandaloneCluster cluster;
    private final Path appJar;
    private final Path driverLog4j;
    private final Map<String, String> extraConf;

    SparkSubmitter(SparkStandaloneCluster cluster, Path appJar, Path driverLog4j, Map<String, String> extraConf) {
        this.cluster = cluster;
        this.appJar = appJar;
        this.driverLog4j = driverLog4j;
        this.extraConf = new LinkedHashMap<>(extraConf);
    }

    /** The full command line: java … SparkSubmit --master spark://… --class … app.jar args. */
    List<String> command(List<String> args) {
        return command(args, Map.of());
    }

    /**
     * With settings for this submission only; {@code spark.executor.extraJavaOptions} given here is appended to
     * the executors' usual flags instead of replacing them.
     */
    List<String> command(List<String> args, Map<String, String> submissionConf) {
        String opens = Jvms.opensString();
        List<String> cmd = new ArrayList<>(List.of(Jvms.java(), "-Xmx1g"));
        cmd.addAll(Jvms.opens());
        cmd.addAll(List.of(ND4J_MEMORY.split(" ")));
        cmd.add("-Dlog4j2.configurationFile=" + driverLog4j.toAbsolutePath());
        cmd.addAll(List.of("-cp", cluster.sparkHome.resolve("jars") + "/*", "org.apache.spark.deploy.SparkSubmit",
                "--master", cluster.masterUrl, "--deploy-mode", "client",
                "--executor-memory", "1g", "--executor-cores", "1", "--total-executor-cores", "2"));
        Map<String, String> conf = new LinkedHashMap<>();
        conf.put("spark.driver.host", "127.0.0.1");
        conf.put("spark.driver.bindAddress", "127.0.0.1");
        conf.put("spark.ui.enabled", "false");
        conf.put("spark.serializer", "org.apache.spark.serializer.KryoSerializer");
        conf.put("spark.kryo.registrator", "org.nd4j.kryo.Nd4jRegistrator,dev.mtpspark.spark.MtpKryoRegistrator");
        // In client mode the driver JVM is already running: the flags above are what counts for it; this
        // setting is what a cluster-mode driver would get.
        conf.put("spark.driver.extraJavaOptions", opens + " " + ND4J_MEMORY);
        conf.put("spark.executor.extraJavaOptions", opens + " " + ND4J_MEMORY);
        conf.put("spark.executorEnv.OMP_NUM_THREADS", "1");
        // One DataNode: files written by the job get one replica (HDFS would accept 3 and report them under-replicated).
        conf.put("spark.hadoop.dfs.replication", "1");
        conf.putAll(extraConf);
        submissionConf.forEach((k, v) -> conf.merge(k, v, (old, add) -> k.equals("spark.executor.extraJavaOptions") ? old + " " + add : add));
        conf.forEach((k, v) -> cmd.addAll(List.of("--conf", k + "=" + v)));
        cmd.addAll(List.of("--class", "dev.mtpspark.spark.MtpCli", appJar.toAbsolutePath().toString()));
        cmd.addAll(args);
        return cmd;
    }

    /** Starts a submission; its output goes to {@code <logDir>/submit-<name>.log}. */
    Submission start(String name, List<String> args) throws IOException {
        return start(name, args, Map.of());
    }

    /** {@link #start(String, List)} with settings for this submission only (see {@link #command(List, Map)}). */
    Submission start(String name, List<String> args, Map<String, String> submissionConf) throws IOException {
        Path log = cluster.logDir.resolve("submit-" + name + ".log");
        Map<String, String> env = new LinkedHashMap<>(cluster.env());
        env.put("OMP_NUM_THREADS", "1");
        long t0 = System.nanoTime();
        return new Submission(name, Jvms.start(command(args, submissionConf), env, log), log, t0);
    }

    /** Runs a submission to its end (killed after {@code timeout}: exit code -1). */
    Result run(String name, Duration timeout, List<String> args) throws Exception {
        return start(name, args).await(timeout);
    }

    /** A running SparkSubmit process. */
    record Submission(String name, Process process, Path log, long startNanos) {
        Result await(Duration timeout) throws InterruptedException {
            int code = Jvms.waitFor(process, timeout);
            Result r = new Result(name, code, Jvms.tail(log, Integer.MAX_VALUE), Duration.ofNanos(System.nanoTime() - startNanos), log);
            System.out.printf("[it] %-24s exit %d after %ds (%s)%n", name, code, r.took().toSeconds(), log);
            return r;
        }

        /** Kills the driver JVM (and anything it started) without warning, as a crash would. */
        void kill() {
            Jvms.stop(process);
        }

        String outputSoFar() {
            return Jvms.tail(log, Integer.MAX_VALUE);
        }
    }

    /** The outcome of a submission: exit status, the driver's whole output, duration. */
    record Result(String name, int exitCode, String output, Duration took, Path log) {
        /** For assertion messages: the exit code and the end of the driver output. */
        String describe() {
            String tail = output.length() <= 6000 ? output : "…" + output.substring(output.length() - 6000);
            return name + " exited " + exitCode + " after " + took.toSeconds() + " s; driver output (" + log + "):\n" + tail;
        }
    }
}

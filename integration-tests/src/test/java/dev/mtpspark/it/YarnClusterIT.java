package dev.mtpspark.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.hdfs.MiniDFSCluster;
import org.apache.hadoop.yarn.api.records.ApplicationId;
import org.apache.hadoop.yarn.api.records.ApplicationReport;
import org.apache.hadoop.yarn.api.records.ContainerId;
import org.apache.hadoop.yarn.api.records.FinalApplicationStatus;
import org.apache.hadoop.yarn.api.records.SignalContainerCommand;
import org.apache.hadoop.yarn.client.api.YarnClient;
import org.apache.hadoop.yarn.conf.YarnConfiguration;
import org.apache.hadoop.yarn.server.MiniYARNCluster;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

import java.io.IOException;
import java.io.OutputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The jobs on a real YARN (a MiniYARNCluster: ResourceManager and one NodeManager in this JVM, containers as
 * separate processes) over a real HDFS (a MiniDFSCluster), submitted by {@code deploy/yarn/submit-yarn.sh} itself
 * with its properties file, in cluster deploy mode: the driver runs in the application master's container. The
 * script finds {@code spark-submit} under a stand-in {@code SPARK_HOME} whose {@code bin/spark-submit} runs Spark's
 * submit class on the linked runtime jars; the containers get those jars as {@code local:} files
 * ({@code spark.yarn.jars}), the application jar from HDFS as the deploy README says.
 *
 * <p>Logs: {@code integration-tests/target/it-logs-yarn/} (one file per submission); the containers' logs under
 * {@code target/test/data/mtp-it-yarn/}.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class YarnClusterIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration JOB_TIMEOUT = Duration.ofMinutes(Long.getLong("mtp.it.yarnJobTimeoutMinutes", 8));
    private static final Pattern APPLICATION_ID = Pattern.compile("application_\\d+_\\d+");
    private static final String CLUSTER_NAME = "mtp-it-yarn";

    private final java.nio.file.Path repo = java.nio.file.Path.of(System.getProperty("mtp.repo.dir", "..")).toAbsolutePath().normalize();
    private final java.nio.file.Path work = java.nio.file.Path.of(System.getProperty("mtp.it.workDir", "target")).toAbsolutePath();
    private final java.nio.file.Path logs = work.resolve("it-logs-yarn");

    private MiniDFSCluster hdfs;
    private FileSystem fs;
    private MiniYARNCluster yarn;
    private YarnClient client;
    private java.nio.file.Path sparkHome;
    private java.nio.file.Path confDir;
    private final List<Process> running = new ArrayList<>();

    @BeforeAll
    void startClusters() throws Exception {
        long t0 = System.nanoTime();
        java.nio.file.Path appJar = repo.resolve("app/target/mtp-spark-app.jar");
        assertTrue(Files.isRegularFile(appJar), "no application jar " + appJar + ": build it first");
        Jvms.deleteRecursively(logs);
        Files.createDirectories(logs);

        YarnConfiguration conf = new YarnConfiguration();
        java.nio.file.Path hdfsDir = work.resolve("it-yarn-hdfs");
        Jvms.deleteRecursively(hdfsDir);
        conf.set(MiniDFSCluster.HDFS_MINIDFS_BASEDIR, hdfsDir.toString());
        conf.setInt("dfs.replication", 1);
        hdfs = new MiniDFSCluster.Builder(conf).numDataNodes(1).format(true).build();
        hdfs.waitActive();
        String hdfsUri = "hdfs://127.0.0.1:" + hdfs.getNameNodePort();
        conf.set("fs.defaultFS", hdfsUri);
        fs = FileSystem.get(URI.create(hdfsUri), conf);

        // One NodeManager that can hold the application master (the driver) and two executors of this test's size;
        // memory is YARN's bookkeeping, not what the processes use. The FIFO scheduler has no AM share limit.
        conf.set(YarnConfiguration.RM_SCHEDULER, "org.apache.hadoop.yarn.server.resourcemanager.scheduler.fifo.FifoScheduler");
        conf.setInt(YarnConfiguration.RM_SCHEDULER_MINIMUM_ALLOCATION_MB, 256);
        conf.setInt(YarnConfiguration.RM_SCHEDULER_MAXIMUM_ALLOCATION_MB, 8192);
        conf.setInt(YarnConfiguration.YARN_MINICLUSTER_NM_PMEM_MB, 16384);   // MiniYARNCluster sets NM_PMEM_MB from this
        conf.setInt(YarnConfiguration.NM_VCORES, 8);
        conf.setBoolean(YarnConfiguration.NM_PMEM_CHECK_ENABLED, false);
        conf.setBoolean(YarnConfiguration.NM_VMEM_CHECK_ENABLED, false);
        conf.setFloat(YarnConfiguration.NM_MAX_PER_DISK_UTILIZATION_PERCENTAGE, 100f);
        Jvms.deleteRecursively(yarnDir());
        yarn = new MiniYARNCluster(CLUSTER_NAME, 1, 1, 1);
        yarn.init(conf);
        yarn.start();
        assertTrue(yarn.waitForNodeManagersToConnect(60_000), "the NodeManager did not register");
        Configuration live = yarn.getConfig();
        client = YarnClient.createYarnClient();
        client.init(live);
        client.start();

        // HADOOP_CONF_DIR for spark-submit and the containers: HDFS and the ResourceManager's live addresses only
        // (the mini clusters' own settings name test-only classes such as StaticMapping).
        confDir = work.resolve("it-yarn-conf");
        Jvms.deleteRecursively(confDir);
        Files.createDirectories(confDir);
        Configuration core = new Configuration(false);
        core.set("fs.defaultFS", hdfsUri);
        core.set("dfs.replication", "1");
        Configuration site = new Configuration(false);
        for (String key : List.of(YarnConfiguration.RM_ADDRESS, YarnConfiguration.RM_SCHEDULER_ADDRESS,
                YarnConfiguration.RM_RESOURCE_TRACKER_ADDRESS, YarnConfiguration.RM_ADMIN_ADDRESS, YarnConfiguration.RM_WEBAPP_ADDRESS)) {
            site.set(key, live.get(key));
        }
        for (var file : Map.of("core-site.xml", core, "yarn-site.xml", site).entrySet()) {
            try (OutputStream out = Files.newOutputStream(confDir.resolve(file.getKey()))) {
                file.getValue().writeXml(out);
            }
        }

        // A stand-in Spark distribution: the runtime jars and a bin/spark-submit that runs Spark's submit class.
        List<java.nio.file.Path> jars = Arrays.stream(Files.readString(java.nio.file.Path.of(
                        System.getProperty("mtp.it.sparkClasspathFile", work.resolve("spark-runtime.classpath").toString())))
                        .trim().split(java.io.File.pathSeparator))
                .map(java.nio.file.Path::of).toList();
        sparkHome = SparkStandaloneCluster.createSparkHome(work.resolve("spark-home-yarn"), jars);
        java.nio.file.Path submit = Files.createDirectories(sparkHome.resolve("bin")).resolve("spark-submit");
        // As Spark's own launcher does, HADOOP_CONF_DIR goes first on the class path: that is how the client finds YARN.
        Files.writeString(submit, "#!/usr/bin/env bash\nexec " + Jvms.java() + " -Xmx512m " + Jvms.opensString()
                + " -cp \"$HADOOP_CONF_DIR:" + sparkHome.resolve("jars") + "/*\" org.apache.spark.deploy.SparkSubmit \"$@\"\n");
        Files.setPosixFilePermissions(submit, PosixFilePermissions.fromString("rwxr-xr-x"));

        // What the deploy README has users put on HDFS, and the corpus.
        put(appJar, "/mtp/lib/mtp-spark-app.jar");
        put(repo.resolve("deploy/gpu/getGpusResources.sh"), "/mtp/bin/getGpusResources.sh");
        put(repo.resolve("conf/local.yaml"), "/mtp/conf/local.yaml");
        fs.mkdirs(new Path("/spark-history"));
        try (OutputStream out = fs.create(new Path("/corpora/shakespeare.txt"))) {
            out.write(SparkClusterIT.corpus());
        }
        System.out.printf("[it] YARN ResourceManager %s and HDFS %s ready in %ds%n",
                live.get(YarnConfiguration.RM_ADDRESS), hdfsUri, (System.nanoTime() - t0) / 1_000_000_000L);
    }

    @AfterAll
    void stopClusters() throws IOException {
        running.forEach(Jvms::stop);
        try {
            if (client != null) {
                client.stop();
            }
            if (yarn != null) {
                yarn.stop();
            }
        } finally {
            if (fs != null) {
                fs.close();
            }
            if (hdfs != null) {
                hdfs.shutdown(true);
            }
        }
    }

    // Tokenize from HDFS, then train with two executors; one executor's container is killed (through the YARN
    // client API) while it runs a training task held there by the test hook; the job still ends with every
    // metrics row and a checkpoint on HDFS, and YARN reports it SUCCEEDED.

    @Test
    @Order(1)
    void tokenizeAndTrainInClusterModeSurvivingAContainerKill() throws Exception {
        Submitted tokenize = submit("y1-tokenize", Map.of(), "tokenize", "--input", "hdfs:///corpora/shakespeare.txt",
                "--tokenizer", "char", "--context-length", "16", "--predicted-tokens", "2", "--output", "hdfs:///datasets/y1");
        assertEquals(0, tokenize.await(), tokenize.describe());
        assertEquals(FinalApplicationStatus.SUCCEEDED, report(tokenize).getFinalApplicationStatus(), tokenize.describe());
        assertTrue(fs.exists(new Path("/datasets/y1/manifest.json")), "no manifest on HDFS");
        assertTrue(driverLog(tokenize).contains("tokenize: done"), "the driver container's log has the job's summary");

        java.nio.file.Path pause = work.resolve("it-pause-yarn");
        Jvms.deleteRecursively(pause);
        Submitted train = submit("y1-train", Map.of("MTP_EXECUTOR_JAVA_OPTS", "-Dmtp.test.pause-training-task=" + pause),
                "train", "--config", "hdfs:///mtp/conf/local.yaml", "--set", "data.dataset=hdfs:///datasets/y1",
                "--set", "run.output=hdfs:///runs/y1",
                "--set", "model.context-length=16", "--set", "model.predicted-tokens=2", "--set", "model.model-width=16",
                "--set", "model.attention-heads=2", "--set", "model.trunk-depth=1", "--set", "model.mlp-width=32",
                "--set", "training.workers=2", "--set", "model.step-threads=1", "--set", "training.steps=8",
                "--set", "training.averaging-frequency=2",
                "--set", "training.batch-size-per-worker=8", "--set", "training.train-metrics-every=1",
                "--set", "evaluation.every-steps=4", "--set", "logging.every-steps=2", "--set", "checkpoint.every-steps=4",
                "--set", "optimizer.learning-rate=1e-2", "--set", "optimizer.warmup-steps=2");
        long deadline = System.nanoTime() + JOB_TIMEOUT.toNanos();
        while (!Files.exists(pause.resolve("paused"))) {
            if (!train.process.isAlive() || System.nanoTime() > deadline) {
                fail("no training task was held by the test hook: " + train.describe());
            }
            Thread.sleep(300);
        }
        List<String> paused = Files.readAllLines(pause.resolve("paused"));
        long pid = Long.parseLong(paused.get(0).trim());
        ContainerId container = ContainerId.fromString(paused.get(1).trim());
        client.signalToContainer(container, SignalContainerCommand.FORCEFUL_SHUTDOWN);
        ProcessHandle victim = ProcessHandle.of(pid).orElse(null);
        if (victim != null) {
            victim.onExit().get(60, java.util.concurrent.TimeUnit.SECONDS);
        }
        System.out.printf("[it] y1 killed executor container %s (pid %d) inside a training task%n", container, pid);

        assertEquals(0, train.await(), train.describe());
        ApplicationReport r = report(train);
        assertEquals(FinalApplicationStatus.SUCCEEDED, r.getFinalApplicationStatus(), train.describe());
        String driver = driverLog(train);
        assertTrue(driver.contains("steps        8 "), "the driver's summary in its container log:\n" + driver);
        assertTrue(fs.exists(new Path("/runs/y1/checkpoints/step-000000008")), "no final checkpoint on HDFS");
        assertMetrics("/runs/y1", 8);
        java.nio.file.Path events = Files.createDirectories(logs.resolve("events-y1"));
        for (FileStatus f : fs.listStatus(new Path("/spark-history"))) {
            if (f.getPath().getName().contains(r.getApplicationId().toString())) {
                fs.copyToLocalFile(f.getPath(), new Path(events.resolve(f.getPath().getName()).toUri()));
            }
        }
        Files.deleteIfExists(events.resolve("." + r.getApplicationId() + ".crc"));
        try (Stream<java.nio.file.Path> crc = Files.list(events)) {
            for (java.nio.file.Path p : crc.filter(p -> p.getFileName().toString().endsWith(".crc")).toList()) {
                Files.delete(p);
            }
        }
        SparkClusterIT.assertTaskLostAndRetried(events);
    }

    // A bad input: the job fails, YARN reports FAILED, and the message is in the driver container's log.

    @Test
    @Order(2)
    void badInputFailsWithItsMessageInTheDriverLog() throws Exception {
        Submitted bad = submit("y2-bad-input", Map.of("MTP_SUBMIT_OPTS_EXTRA", "--conf spark.yarn.maxAppAttempts=1"),
                "tokenize", "--input", "hdfs:///corpora/missing.txt", "--output", "hdfs:///datasets/y2");
        assertNotEquals(0, bad.await(), bad.describe());
        ApplicationReport r = report(bad);
        assertEquals(FinalApplicationStatus.FAILED, r.getFinalApplicationStatus(), bad.describe());
        String driver = driverLog(bad);
        assertTrue(driver.contains("input path does not exist: hdfs://"), "the bad-input message in the driver log:\n" + driver);
        assertTrue(r.getDiagnostics().contains("exited with status 2: error: input path does not exist: hdfs://"),
                "YARN's diagnostics carry the error line: " + r.getDiagnostics());
        assertTrue(!fs.exists(new Path("/datasets/y2")), "a failed job leaves no output");
        System.out.printf("[it] y2 YARN final status %s, diagnostics: %s%n", r.getFinalApplicationStatus(), r.getDiagnostics());
    }

    // ---------------------------------------------------------------------------------------------------------

    /** A running {@code submit-yarn.sh}: the spark-submit client, which waits for the application's end. */
    private final class Submitted {
        final String name;
        final Process process;
        final java.nio.file.Path log;

        Submitted(String name, Process process, java.nio.file.Path log) {
            this.name = name;
            this.process = process;
            this.log = log;
        }

        int await() throws InterruptedException {
            int code = Jvms.waitFor(process, JOB_TIMEOUT);
            System.out.printf("[it] %-16s exit %d (%s)%n", name, code, log);
            return code;
        }

        String output() {
            return Jvms.tail(log, Integer.MAX_VALUE);
        }

        ApplicationId applicationId() {
            Matcher m = APPLICATION_ID.matcher(output());
            assertTrue(m.find(), "no application id in the spark-submit output: " + describe());
            return ApplicationId.fromString(m.group());
        }

        String describe() {
            String out = output();
            return name + " (" + log + "):\n" + (out.length() <= 6000 ? out : "…" + out.substring(out.length() - 6000))
                    + "\nYARN: " + yarnState();
        }
    }

    /**
     * Runs {@code deploy/yarn/submit-yarn.sh} for CPU executors of this machine's size; {@code env} adds or
     * overrides its environment ({@code MTP_SUBMIT_OPTS_EXTRA} is appended to the test's own submit options).
     */
    private Submitted submit(String name, Map<String, String> env, String... args) throws IOException {
        Map<String, String> e = new LinkedHashMap<>();
        e.put("SPARK_HOME", sparkHome.toString());
        e.put("HADOOP_CONF_DIR", confDir.toString());
        e.put("YARN_CONF_DIR", confDir.toString());
        e.put("SPARK_LOCAL_IP", "127.0.0.1");
        e.put("MTP_GPUS_PER_EXECUTOR", "0");
        e.put("MTP_ADD_OPENS", "1");
        e.put("MTP_DRIVER_MEMORY", "1g");
        e.put("MTP_DRIVER_OFFHEAP", "1g");
        e.put("MTP_EXECUTOR_MEMORY", "1g");
        e.put("MTP_EXECUTOR_OFFHEAP", "1g");
        e.put("MTP_EXECUTOR_CORES", "1");
        e.put("MTP_NUM_EXECUTORS", "2");
        String javaHome = System.getProperty("java.home");
        String opts = "--conf spark.yarn.jars=local:" + sparkHome.resolve("jars") + "/*"
                + " --conf spark.yarn.appMasterEnv.JAVA_HOME=" + javaHome + " --conf spark.executorEnv.JAVA_HOME=" + javaHome
                + " --conf spark.yarn.appMasterEnv.OMP_NUM_THREADS=1 --conf spark.executorEnv.OMP_NUM_THREADS=1"
                + " --conf spark.yarn.submit.waitAppCompletion=true --conf spark.hadoop.dfs.replication=1"
                // The UI's YARN proxy filter (AmIpFilter) comes from a Hadoop installation's class path, absent here.
                + " --conf spark.ui.enabled=false";
        if (!"false".equals(System.getProperty("mtp.it.kryoRegistrationRequired"))) {
            opts += " --conf spark.kryo.registrationRequired=true";
        }
        Map<String, String> extra = new LinkedHashMap<>(env);
        String more = extra.remove("MTP_SUBMIT_OPTS_EXTRA");
        e.put("MTP_SUBMIT_OPTS", more == null ? opts : opts + " " + more);
        e.putAll(extra);
        List<String> cmd = new ArrayList<>(List.of("bash", repo.resolve("deploy/yarn/submit-yarn.sh").toString()));
        cmd.addAll(List.of(args));
        java.nio.file.Path log = logs.resolve("submit-" + name + ".log");
        Process p = Jvms.start(cmd, e, log);
        running.add(p);
        return new Submitted(name, p, log);
    }

    /** The NodeManagers' capacity, use and health, and every application's state, for failure messages. */
    private String yarnState() {
        try {
            StringBuilder b = new StringBuilder();
            for (var n : client.getNodeReports()) {
                b.append("\n  node ").append(n.getNodeId()).append(' ').append(n.getNodeState()).append(" capability ")
                        .append(n.getCapability()).append(" used ").append(n.getUsed()).append(" health '")
                        .append(n.getHealthReport()).append('\'');
            }
            for (var a : client.getApplications()) {
                b.append("\n  ").append(a.getApplicationId()).append(' ').append(a.getYarnApplicationState()).append(' ')
                        .append(a.getFinalApplicationStatus()).append(" '").append(a.getDiagnostics()).append('\'');
            }
            return b.toString();
        } catch (Exception e) {
            return "(" + e + ")";
        }
    }

    private ApplicationReport report(Submitted s) throws Exception {
        return client.getApplicationReport(s.applicationId());
    }

    /** stdout and stderr of the application master's container (attempt 1's, the driver in cluster mode). */
    private String driverLog(Submitted s) throws IOException {
        String app = s.applicationId().toString();
        String amContainer = "container_" + app.substring("application_".length()) + "_01_000001";
        StringBuilder b = new StringBuilder();
        try (Stream<java.nio.file.Path> files = Files.walk(yarnDir())) {
            for (java.nio.file.Path f : files.filter(p -> p.getParent() != null && p.getParent().getFileName().toString().equals(amContainer))
                    .filter(p -> p.getFileName().toString().matches("stdout|stderr")).sorted().toList()) {
                b.append("== ").append(f).append('\n').append(Files.readString(f, StandardCharsets.UTF_8));
            }
        }
        assertTrue(b.length() > 0, "no log files of " + amContainer + " under " + yarnDir());
        return b.toString();
    }

    /** Where MiniYARNCluster keeps its NodeManager's directories, container logs included. */
    private java.nio.file.Path yarnDir() {
        return java.nio.file.Path.of("target", "test", "data", CLUSTER_NAME).toAbsolutePath();   // GenericTestUtils.getTestDir
    }

    private void put(java.nio.file.Path local, String hdfsPath) throws IOException {
        fs.copyFromLocalFile(false, true, new Path(local.toUri()), new Path(hdfsPath));
    }

    /** One row per (split, step), validation up to {@code steps}, and both horizons' losses falling. */
    private void assertMetrics(String run, int steps) throws IOException {
        List<JsonNode> rows = new ArrayList<>();
        try (FSDataInputStream in = fs.open(new Path(run + "/metrics.jsonl"))) {
            for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
                if (!line.isBlank()) {
                    rows.add(JSON.readTree(line));
                }
            }
        }
        List<String> keys = new ArrayList<>();
        List<JsonNode> validation = new ArrayList<>();
        for (JsonNode r : rows) {
            String key = r.path("split").asText() + "@" + r.path("step").asLong();
            assertTrue(!keys.contains(key), "duplicate metrics row " + key);
            keys.add(key);
            if ("validation".equals(r.path("split").asText())) {
                validation.add(r);
            }
        }
        for (int step = 2; step <= steps; step += 2) {
            assertTrue(keys.contains("train@" + step), "no training row at step " + step + ": " + keys);
        }
        assertEquals(steps, validation.get(validation.size() - 1).path("step").asLong(), "last validation step: " + keys);
        for (int k = 1; k <= 2; k++) {
            String key = "loss/h" + k;
            assertTrue(validation.get(validation.size() - 1).path(key).asDouble() < validation.get(0).path(key).asDouble(),
                    key + " did not fall: " + validation);
        }
    }
}

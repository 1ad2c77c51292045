package dev.mtpspark.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.hdfs.MiniDFSCluster;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The jobs on a real Spark standalone cluster (a master and two one-core workers, each its own JVM) reading and
 * writing a real HDFS (a MiniDFSCluster in this JVM), submitted through SparkSubmit with the assembled
 * application jar. One cluster and one HDFS serve all scenarios, in order; docs/testing.md describes each.
 *
 * <p>Logs: {@code integration-tests/target/it-logs/} (master, workers, one file per submission with the
 * command line beside it); executor logs under {@code target/spark-worker-N/<app-id>/<executor-id>/}.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class SparkClusterIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration JOB_TIMEOUT = Duration.ofMinutes(8);
    private static final Duration START_TIMEOUT = Duration.ofMinutes(3);
    private static final int CORPUS_BYTES = 200_000;
    private static final Pattern RESUMING = Pattern.compile("resuming from (\\S+/step-(\\d{9,})) at step (\\d+)");

    private final java.nio.file.Path repo = java.nio.file.Path.of(System.getProperty("mtp.repo.dir", "..")).toAbsolutePath().normalize();
    private final java.nio.file.Path work = java.nio.file.Path.of(System.getProperty("mtp.it.workDir", "target")).toAbsolutePath();
    private final java.nio.file.Path logs = work.resolve("it-logs");

    private MiniDFSCluster hdfs;
    private FileSystem fs;
    private String hdfsUri;
    private SparkStandaloneCluster spark;
    private SparkSubmitter submit;
    private final List<SparkSubmitter.Submission> running = new ArrayList<>();

    @BeforeAll
    void startClusters() throws Exception {
        long t0 = System.nanoTime();
        java.nio.file.Path appJar = repo.resolve("app/target/mtp-spark-app.jar");
        assertTrue(Files.isRegularFile(appJar), "no application jar " + appJar + ": build it first (mvn -B verify from the "
                + "repository root builds it before this module; alone: mvn -B -DskipTests install -pl app -am)");
        System.out.printf("[it] application jar %s: %,d bytes (%.1f MB)%n", appJar, Files.size(appJar), Files.size(appJar) / 1e6);
        Jvms.deleteRecursively(logs);
        Files.createDirectories(logs);

        // HDFS: a NameNode and one DataNode in this JVM; the jobs reach it at hdfs://127.0.0.1:<port>.
        java.nio.file.Path hdfsDir = work.resolve("it-hdfs");
        Jvms.deleteRecursively(hdfsDir);
        Configuration conf = new Configuration();
        conf.set(MiniDFSCluster.HDFS_MINIDFS_BASEDIR, hdfsDir.toString());
        conf.setInt("dfs.replication", 1);
        hdfs = new MiniDFSCluster.Builder(conf).numDataNodes(1).format(true).build();
        hdfs.waitActive();
        hdfsUri = "hdfs://127.0.0.1:" + hdfs.getNameNodePort();
        fs = FileSystem.get(URI.create(hdfsUri), conf);
        byte[] corpus = corpus();
        try (FSDataOutputStream out = fs.create(new Path("/corpora/shakespeare.txt"))) {
            out.write(corpus);
        }
        System.out.printf("[it] HDFS at %s, corpus %,d bytes, started in %ds%n", hdfsUri, corpus.length, secondsSince(t0));

        // Spark: a master and two workers (1 core, 2 GB each), separate JVMs on Spark's runtime jars.
        List<java.nio.file.Path> jars = Arrays.stream(Files.readString(java.nio.file.Path.of(
                        System.getProperty("mtp.it.sparkClasspathFile", work.resolve("spark-runtime.classpath").toString())))
                        .trim().split(java.io.File.pathSeparator))
                .map(java.nio.file.Path::of).toList();
        long t1 = System.nanoTime();
        spark = SparkStandaloneCluster.start(work, logs, jars, 2, 1, "2g", START_TIMEOUT);
        System.out.printf("[it] Spark master %s (web UI :%d) with 2 ALIVE workers in %ds%n", spark.masterUrl,
                spark.masterWebUiPort, secondsSince(t1));

        Map<String, String> extraConf = new LinkedHashMap<>();
        if (!"false".equals(System.getProperty("mtp.it.kryoRegistrationRequired"))) {   // required unless turned off
            extraConf.put("spark.kryo.registrationRequired", "true");
        }
        submit = new SparkSubmitter(spark, appJar, work.resolve("test-classes/it-driver-log4j2.properties"), extraConf);
    }

    @AfterAll
    void stopClusters() throws IOException {
        try {
            running.forEach(SparkSubmitter.Submission::kill);
        } finally {
            try {
                if (spark != null) {
                    spark.close();
                    spark.cleanUpDisk();
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
    }

    // ---------------------------------------------------------------------------------------------------------
    // Scenario 1: tokenize from HDFS → train with two executors → evaluate, all on the cluster.

    @Test
    @Order(1)
    void scenario1TokenizeTrainEvaluate() throws Exception {
        SparkSubmitter.Result tok = submit.run("s1-tokenize", JOB_TIMEOUT, List.of("tokenize",
                "--input", hdfs("/corpora/shakespeare.txt"), "--tokenizer", "char", "--context-length", "16",
                "--predicted-tokens", "2", "--output", hdfs("/datasets/s1")));
        assertEquals(0, tok.exitCode(), tok.describe());
        assertTrue(tok.output().contains("tokenize: done"), tok.describe());
        assertTrue(fs.exists(new Path("/datasets/s1/manifest.json")), "no manifest.json in " + list("/datasets/s1"));

        SparkSubmitter.Result train = submit.run("s1-train", JOB_TIMEOUT, train("/datasets/s1", "/runs/s1", 8));
        assertEquals(0, train.exitCode(), train.describe());
        assertTrue(train.output().contains("train: done"), train.describe());
        assertTrue(train.output().contains("steps        8 "), train.describe());

        // Per-horizon metrics on HDFS; validation loss falls for every horizon.
        List<JsonNode> rows = metrics("/runs/s1");
        List<JsonNode> validation = rows.stream().filter(r -> "validation".equals(r.path("split").asText())).toList();
        List<JsonNode> training = rows.stream().filter(r -> "train".equals(r.path("split").asText())).toList();
        assertEquals(List.of(0L, 4L, 8L), validation.stream().map(r -> r.path("step").asLong()).toList(), "validation rows " + validation);
        assertEquals(List.of(2L, 4L, 6L, 8L), training.stream().map(r -> r.path("step").asLong()).toList(), "train rows " + training);
        JsonNode first = validation.get(0);
        JsonNode last = validation.get(validation.size() - 1);
        for (int k = 1; k <= 2; k++) {
            String key = "loss/h" + k;
            assertTrue(first.path(key).isNumber() && last.path(key).isNumber(), key + " missing: " + first + " / " + last);
            assertTrue(last.path(key).asDouble() < first.path(key).asDouble(),
                    key + " did not fall: " + first.path(key) + " at step 0, " + last.path(key) + " at step 8");
            for (JsonNode r : training) {
                assertTrue(r.path(key).isNumber(), key + " missing in train row " + r);
            }
            System.out.printf("[it] s1 validation %s: %.4f (step 0) -> %.4f (step 8)%n", key,
                    first.path(key).asDouble(), last.path(key).asDouble());
        }
        assertFalse(last.has("loss/h3"), "a third horizon in " + last);

        // Checkpoints on HDFS, complete (checksums.sha256 is written last).
        for (String step : List.of("step-000000004", "step-000000008")) {
            assertTrue(fs.exists(new Path("/runs/s1/checkpoints/" + step + "/checksums.sha256")),
                    step + " incomplete: " + list("/runs/s1/checkpoints"));
        }

        SparkSubmitter.Result eval = submit.run("s1-evaluate", JOB_TIMEOUT, List.of("evaluate", "--checkpoint", hdfs("/runs/s1")));
        assertEquals(0, eval.exitCode(), eval.describe());
        assertTrue(eval.output().contains("step-000000008"), eval.describe());
        assertTrue(eval.output().contains("horizon   loss"), eval.describe());
        for (int k = 1; k <= 2; k++) {
            assertTrue(Pattern.compile("(?m)^\\s+h" + k + "\\s+\\d+\\.\\d+").matcher(eval.output()).find(),
                    "no h" + k + " row: " + eval.describe());
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Scenario 5: bad input on the cluster fails fast, with the reason in the driver output and exit status 2.

    @Test
    @Order(2)
    void scenario5MissingInputFailsFast() throws Exception {
        SparkSubmitter.Result r = submit.run("s5-missing-input", JOB_TIMEOUT, List.of("tokenize",
                "--input", hdfs("/corpora/no-such-file.txt"), "--tokenizer", "char", "--output", hdfs("/datasets/s5-missing")));
        assertEquals(2, r.exitCode(), r.describe());
        assertTrue(r.output().contains("error: input path does not exist"), r.describe());
        assertTrue(r.output().contains("/corpora/no-such-file.txt"), r.describe());
        assertFalse(fs.exists(new Path("/datasets/s5-missing")), "output created for a failed job");
    }

    @Test
    @Order(3)
    void scenario5EmptyCorpusFailsFast() throws Exception {
        fs.create(new Path("/corpora/empty.txt")).close();
        SparkSubmitter.Result r = submit.run("s5-empty-corpus", JOB_TIMEOUT, List.of("tokenize",
                "--input", hdfs("/corpora/empty.txt"), "--tokenizer", "char", "--output", hdfs("/datasets/s5-empty")));
        assertEquals(2, r.exitCode(), r.describe());
        assertTrue(r.output().contains("error: empty corpus"), r.describe());
        assertFalse(fs.exists(new Path("/datasets/s5-empty")), "output created for a failed job");
    }

    // ---------------------------------------------------------------------------------------------------------
    // Scenario 4: a damaged newest checkpoint on HDFS; train again resumes from the one before it.

    @Test
    @Order(4)
    void scenario4ResumeSkipsDamagedCheckpoint() throws Exception {
        Path newest = new Path("/runs/s1/checkpoints/step-000000008/model.zip");
        assumeTrue(fs.exists(newest), "scenario 1's run is needed");
        truncateToHalf(newest);

        SparkSubmitter.Result r = submit.run("s4-resume", JOB_TIMEOUT, train("/datasets/s1", "/runs/s1", 10));
        assertEquals(0, r.exitCode(), r.describe());
        assertTrue(r.output().contains("step-000000008 is damaged"), "no warning about the damaged checkpoint: " + r.describe());
        Matcher m = RESUMING.matcher(r.output());
        assertTrue(m.find(), "no 'resuming from' line: " + r.describe());
        assertTrue(m.group(1).endsWith("/runs/s1/checkpoints/step-000000004"), m.group());
        assertEquals("4", m.group(3), m.group());
        assertTrue(r.output().contains("steps        10 "), r.describe());
        assertTrue(fs.exists(new Path("/runs/s1/checkpoints/step-000000010/checksums.sha256")), list("/runs/s1/checkpoints"));
        // The damaged step 8 was trained again and saved whole.
        assertTrue(fs.exists(new Path("/runs/s1/checkpoints/step-000000008/checksums.sha256")), list("/runs/s1/checkpoints"));
        assertMetricsContinuous("/runs/s1", 10);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Scenario 3: the driver dies after a checkpoint; a new submission continues from it.

    @Test
    @Order(5)
    void scenario3DriverLossResumesFromCheckpoint() throws Exception {
        assumeTrue(fs.exists(new Path("/datasets/s1/manifest.json")), "scenario 1's dataset is needed");
        List<String> args = train("/datasets/s1", "/runs/s3", 10);
        SparkSubmitter.Submission first = track(submit.start("s3-train-killed", args));
        Path checkpoint = new Path("/runs/s3/checkpoints/step-000000004/checksums.sha256");
        awaitOrFail(() -> fs.exists(checkpoint), first, "the step-4 checkpoint on HDFS");
        first.kill();
        assertFalse(first.process().isAlive());
        String before = first.outputSoFar();
        assertFalse(before.contains("train: done"), "the run ended before the kill: " + before);
        System.out.printf("[it] s3 driver killed %ds after its start, once %s appeared%n",
                secondsSince(first.startNanos()), checkpoint);

        SparkSubmitter.Result r = submit.run("s3-train-resumed", JOB_TIMEOUT, args);
        assertEquals(0, r.exitCode(), r.describe());
        Matcher m = RESUMING.matcher(r.output());
        assertTrue(m.find(), "no 'resuming from' line: " + r.describe());
        long resumedAt = Long.parseLong(m.group(3));
        assertTrue(resumedAt >= 4 && resumedAt < 10, "resumed at step " + resumedAt);
        assertTrue(r.output().contains("steps        10 "), r.describe());
        assertMetricsContinuous("/runs/s3", 10);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Scenario 2: an executor JVM dies inside a training task; Spark retries the task and the job completes.

    @Test
    @Order(6)
    void scenario2ExecutorLossIsSurvived() throws Exception {
        assumeTrue(fs.exists(new Path("/datasets/s1/manifest.json")), "scenario 1's dataset is needed");
        // The test hook (TrainingTaskPause) holds the first training task after one minibatch update, so the
        // kill lands inside it; the event log then shows that task failing and its retry succeeding.
        java.nio.file.Path pause = work.resolve("it-pause-s2");
        java.nio.file.Path events = work.resolve("it-events-s2");
        Jvms.deleteRecursively(pause);
        Jvms.deleteRecursively(events);
        Files.createDirectories(events);
        Map<String, String> conf = Map.of("spark.executor.extraJavaOptions", "-Dmtp.test.pause-training-task=" + pause,
                "spark.eventLog.enabled", "true", "spark.eventLog.dir", events.toUri().toString());
        SparkSubmitter.Submission job = track(submit.start("s2-train", train("/datasets/s1", "/runs/s2", 10), conf));
        awaitOrFail(() -> Files.exists(pause.resolve("paused")), job, "a training task held by the test hook");
        long pid = Long.parseLong(Files.readAllLines(pause.resolve("paused")).get(0).trim());
        List<ProcessHandle> executors = spark.executorProcesses();
        assertEquals(2, executors.size(), "executor JVMs under the workers: " + executors);
        ProcessHandle victim = executors.stream().filter(h -> h.pid() == pid).findFirst()
                .orElseThrow(() -> new AssertionError("the held task's JVM " + pid + " is not an executor: " + executors));
        victim.destroyForcibly();
        victim.onExit().get();
        System.out.printf("[it] s2 killed executor JVM pid %d inside a training task%n", victim.pid());

        SparkSubmitter.Result r = job.await(JOB_TIMEOUT);
        assertEquals(0, r.exitCode(), r.describe());
        assertTrue(r.output().contains("steps        10 "), r.describe());
        assertTrue(r.output().matches("(?s).*(Lost executor|Executor .* removed|ExecutorLostFailure).*"),
                "no sign of the lost executor in the driver output: " + r.describe());
        assertMetricsContinuous("/runs/s2", 10);
        assertTaskLostAndRetried(events);

        // Neither the lost executor (s2) nor the lost driver (s3) changes the result: both runs, same
        // configuration and data, end with the same validation losses (training is deterministic, dropout 0).
        if (fs.exists(new Path("/runs/s3/metrics.jsonl"))) {
            JsonNode s2 = lastValidation("/runs/s2");
            JsonNode s3 = lastValidation("/runs/s3");
            for (int k = 1; k <= 2; k++) {
                String key = "loss/h" + k;
                assertEquals(s3.path(key).asDouble(), s2.path(key).asDouble(), 1e-4, key + " at step 10: s2 " + s2 + ", s3 " + s3);
            }
        }
    }

    /**
     * From the application's event log: a task ended with {@code ExecutorLostFailure}, and a later attempt of the
     * same task (stage and partition index) succeeded.
     */
    static void assertTaskLostAndRetried(java.nio.file.Path eventLogDir) throws IOException {
        List<java.nio.file.Path> logs;
        try (var files = Files.list(eventLogDir)) {
            logs = files.filter(Files::isRegularFile).filter(f -> !f.getFileName().toString().startsWith(".")).toList();
        }
        assertEquals(1, logs.size(), "one event log in " + eventLogDir + ": " + logs);
        List<String> lost = new ArrayList<>();
        boolean retried = false;
        for (String line : Files.readAllLines(logs.get(0))) {
            if (!line.contains("\"SparkListenerTaskEnd\"")) {
                continue;
            }
            JsonNode e = JSON.readTree(line);
            String task = e.path("Stage ID").asInt() + "/" + e.path("Task Info").path("Index").asInt();
            String reason = e.path("Task End Reason").path("Reason").asText();
            if (reason.equals("ExecutorLostFailure")) {
                lost.add(task);
            } else if (reason.equals("Success") && lost.contains(task)) {
                retried = true;
            }
        }
        assertFalse(lost.isEmpty(), "no task ended with ExecutorLostFailure in " + logs.get(0));
        assertTrue(retried, "no later attempt of the lost task(s) " + lost + " succeeded in " + logs.get(0));
        System.out.printf("[it] event log: task(s) %s (stage/index) lost with their executor, then retried successfully%n", lost);
    }

    private JsonNode lastValidation(String run) throws IOException {
        return metrics(run).stream().filter(r -> "validation".equals(r.path("split").asText()))
                .reduce((a, b) -> b).orElseThrow();
    }

    // ---------------------------------------------------------------------------------------------------------

    /** The train subcommand of these tests: a tiny model (T = 16, n = 2) trained by two workers. */
    private List<String> train(String dataset, String run, int steps) {
        return List.of("train", "--config", repo.resolve("conf/local.yaml").toUri().toString(),
                "--set", "data.dataset=" + hdfs(dataset), "--set", "run.output=" + hdfs(run),
                "--set", "model.context-length=16", "--set", "model.predicted-tokens=2", "--set", "model.model-width=16",
                "--set", "model.attention-heads=2", "--set", "model.trunk-depth=1", "--set", "model.mlp-width=32",
                "--set", "training.workers=2", "--set", "model.step-threads=1", "--set", "training.steps=" + steps,
                "--set", "training.averaging-frequency=2",
                "--set", "training.batch-size-per-worker=8", "--set", "training.train-metrics-every=1",
                "--set", "evaluation.every-steps=4", "--set", "logging.every-steps=2", "--set", "checkpoint.every-steps=4",
                "--set", "optimizer.learning-rate=1e-2", "--set", "optimizer.warmup-steps=2");
    }

    private String hdfs(String path) {
        return hdfsUri + path;
    }

    private SparkSubmitter.Submission track(SparkSubmitter.Submission s) {
        running.add(s);
        return s;
    }

    /** The first ~200 KB of tiny Shakespeare (../shared/corpora), or a generated text where it is absent. */
    static byte[] corpus() throws IOException {
        java.nio.file.Path file = java.nio.file.Path.of(System.getProperty("mtp.shared.dir", "../../shared"), "corpora", "tinyshakespeare.txt");
        String text;
        if (Files.isRegularFile(file)) {
            text = Files.readString(file, StandardCharsets.UTF_8);
            text = text.substring(0, text.lastIndexOf('\n', Math.min(text.length() - 1, CORPUS_BYTES)) + 1);
        } else {
            StringBuilder b = new StringBuilder();
            String[] words = {"the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog", "and", "runs", "away"};
            for (int i = 0; b.length() < CORPUS_BYTES; i++) {
                b.append(words[(i * 7 + i / 12) % words.length]).append(i % 9 == 8 ? ".\n" : " ");
            }
            text = b.toString();
        }
        return text.getBytes(StandardCharsets.UTF_8);
    }

    private List<JsonNode> metrics(String run) throws IOException {
        List<JsonNode> rows = new ArrayList<>();
        try (FSDataInputStream in = fs.open(new Path(run + "/metrics.jsonl"))) {
            for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
                if (!line.isBlank()) {
                    rows.add(JSON.readTree(line));
                }
            }
        }
        return rows;
    }

    private List<JsonNode> metricsOrEmpty(String run) {
        try {
            return fs.exists(new Path(run + "/metrics.jsonl")) ? metrics(run) : List.of();
        } catch (IOException e) {
            return List.of();   // being written
        }
    }

    /** After a resume: one row per (split, step), validation rows up to {@code steps}, and every horizon's loss. */
    private void assertMetricsContinuous(String run, int steps) throws IOException {
        List<JsonNode> rows = metrics(run);
        Set<String> seen = new HashSet<>();
        TreeMap<Long, JsonNode> validation = new TreeMap<>();
        for (JsonNode r : rows) {
            String key = r.path("split").asText() + "@" + r.path("step").asLong();
            assertTrue(seen.add(key), "duplicate metrics row " + key + " in " + run + "/metrics.jsonl");
            if ("validation".equals(r.path("split").asText())) {
                validation.put(r.path("step").asLong(), r);
            }
        }
        assertEquals(steps, validation.lastKey(), "last validation step in " + run + ": " + validation.keySet());
        JsonNode first = validation.firstEntry().getValue();
        JsonNode last = validation.lastEntry().getValue();
        for (int k = 1; k <= 2; k++) {
            String key = "loss/h" + k;
            assertTrue(last.path(key).asDouble() < first.path(key).asDouble(), key + " did not fall in " + run + ": " + validation);
        }
    }

    /** Halves a file on HDFS in place (a crash in the middle of writing it, or a damaged block). */
    private void truncateToHalf(Path file) throws IOException {
        byte[] bytes;
        try (FSDataInputStream in = fs.open(file)) {
            bytes = in.readAllBytes();
        }
        try (FSDataOutputStream out = fs.create(file, true)) {
            out.write(bytes, 0, bytes.length / 2);
        }
        assertNotEquals(bytes.length, fs.getFileStatus(file).getLen());
    }

    interface Check {
        boolean holds() throws Exception;
    }

    /** Polls {@code check} until it holds; fails when the submission ends first or the job timeout passes. */
    private static void awaitOrFail(Check check, SparkSubmitter.Submission job, String what) throws Exception {
        long deadline = System.nanoTime() + JOB_TIMEOUT.toNanos();
        while (System.nanoTime() < deadline) {
            if (check.holds()) {
                return;
            }
            if (!job.process().isAlive()) {
                fail(job.name() + " ended (" + job.process().exitValue() + ") before " + what + ":\n" + job.outputSoFar());
            }
            Thread.sleep(500);
        }
        job.kill();
        fail("timed out waiting for " + what + ":\n" + job.outputSoFar());
    }

    private String list(String dir) {
        try {
            return Arrays.stream(fs.listStatus(new Path(dir))).map(FileStatus::getPath).map(Path::getName).toList().toString();
        } catch (IOException e) {
            return "(" + e + ")";
        }
    }

    private static long secondsSince(long t0) {
        return (System.nanoTime() - t0) / 1_000_000_000L;
    }
}

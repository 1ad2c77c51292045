package dev.mtpspark.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.InputStream;
import java.net.HttpURLConnection;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;

/**
 * A Spark standalone cluster on 127.0.0.1: one {@code org.apache.spark.deploy.master.Master} and N
 * {@code org.apache.spark.deploy.worker.Worker} JVMs, started as separate processes on Spark's runtime jars.
 *
 * <p>Those jars are linked into {@code <work>/spark-home/jars}, a stand-in for a Spark distribution: a worker
 * launches its executors with {@code SPARK_HOME/jars/*} as their class path (Spark's launcher library insists
 * on that directory), exactly as on a real cluster.
 */
final class SparkStandaloneCluster implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    final Path sparkHome;
    final Path logDir;
    final String masterUrl;
    final int masterWebUiPort;
    private final Map<String, String> env;
    private Process master;
    private final List<Process> workers = new ArrayList<>();
    private final List<Integer> workerWebUiPorts = new ArrayList<>();
    private final List<Path> workerDirs = new ArrayList<>();

    private SparkStandaloneCluster(Path sparkHome, Path logDir, Map<String, String> env, int masterPort, int masterWebUiPort) {
        this.sparkHome = sparkHome;
        this.logDir = logDir;
        this.env = env;
        this.masterUrl = "spark://127.0.0.1:" + masterPort;
        this.masterWebUiPort = masterWebUiPort;
    }

    /**
     * Starts the master and {@code workers} workers ({@code cores} and {@code memory} each) and returns when the
     * master reports them all ALIVE; on any failure everything started is stopped again.
     */
    static SparkStandaloneCluster start(Path workDir, Path logDir, List<Path> sparkJars, int workers, int cores,
                                        String memory, Duration timeout) throws Exception {
        Path home = createSparkHome(workDir.resolve("spark-home"), sparkJars);
        Map<String, String> env = new LinkedHashMap<>();
        env.put("SPARK_HOME", home.toString());
        env.put("SPARK_SCALA_VERSION", "2.12");           // Spark's launcher asks for it outside a distribution
        env.put("SPARK_LOCAL_IP", "127.0.0.1");
        Jvms.deleteRecursively(workDir.resolve("spark-local"));
        env.put("SPARK_LOCAL_DIRS", Files.createDirectories(workDir.resolve("spark-local")).toString());
        env.put("OMP_NUM_THREADS", "1");                  // executors inherit the worker's environment
        SparkStandaloneCluster c = new SparkStandaloneCluster(home, logDir, env, Jvms.freePort(), Jvms.freePort());
        try {
            c.startMaster(timeout);
            for (int i = 1; i <= workers; i++) {
                c.startWorker(i, workDir.resolve("spark-worker-" + i), cores, memory);
            }
            c.awaitMaster(s -> s.path("aliveworkers").asInt() == workers, timeout, workers + " ALIVE workers");
            return c;
        } catch (Exception | Error e) {
            c.close();
            throw e;
        }
    }

    static Path createSparkHome(Path home, List<Path> jars) throws IOException {
        Path dir = home.resolve("jars");
        if (Files.exists(dir)) {
            try (var old = Files.list(dir)) {
                for (Path p : old.toList()) {
                    Files.delete(p);
                }
            }
        }
        Files.createDirectories(dir);
        Files.createDirectories(home.resolve("conf"));
        Set<String> names = new HashSet<>();
        for (Path jar : jars) {
            String name = jar.getFileName().toString();
            if (!names.add(name)) {
                name = names.size() + "-" + name;
                names.add(name);
            }
            Files.createSymbolicLink(dir.resolve(name), jar.toAbsolutePath());
        }
        return home;
    }

    private List<String> daemon(String mainClass) {
        List<String> cmd = new ArrayList<>(List.of(Jvms.java(), "-Xmx384m"));
        cmd.addAll(Jvms.opens());
        cmd.addAll(List.of("-cp", sparkHome.resolve("jars") + "/*", mainClass));
        return cmd;
    }

    private void startMaster(Duration timeout) throws Exception {
        int port = Integer.parseInt(masterUrl.substring(masterUrl.lastIndexOf(':') + 1));
        List<String> cmd = daemon("org.apache.spark.deploy.master.Master");
        cmd.addAll(List.of("--host", "127.0.0.1", "--port", String.valueOf(port), "--webui-port", String.valueOf(masterWebUiPort)));
        master = Jvms.start(cmd, env, logDir.resolve("spark-master.log"));
        awaitMaster(s -> "ALIVE".equals(s.path("status").asText()), timeout, "the master to be ALIVE");
    }

    private void startWorker(int i, Path workDir, int cores, String memory) throws IOException {
        Jvms.deleteRecursively(workDir);                 // executor directories of earlier runs (app jar copies)
        Files.createDirectories(workDir);
        workerDirs.add(workDir);
        int webUi = Jvms.freePort();
        List<String> cmd = daemon("org.apache.spark.deploy.worker.Worker");
        cmd.addAll(List.of("--host", "127.0.0.1", "--port", String.valueOf(Jvms.freePort()), "--webui-port", String.valueOf(webUi),
                "--cores", String.valueOf(cores), "--memory", memory, "--work-dir", workDir.toString(), masterUrl));
        Map<String, String> workerEnv = new LinkedHashMap<>(env);
        workerEnv.put("SPARK_WORKER_DIR", workDir.toString());
        workers.add(Jvms.start(cmd, workerEnv, logDir.resolve("spark-worker-" + i + ".log")));
        workerWebUiPorts.add(webUi);
    }

    /** The master's state from its JSON endpoint ({@code http://127.0.0.1:<webui>/json/}). */
    JsonNode masterState() throws IOException {
        return getJson("http://127.0.0.1:" + masterWebUiPort + "/json/");
    }

    /** A worker's state from its JSON endpoint (its executors, with application and executor ids). */
    JsonNode workerState(int index) throws IOException {
        return getJson("http://127.0.0.1:" + workerWebUiPorts.get(index) + "/json/");
    }

    private static JsonNode getJson(String url) throws IOException {
        HttpURLConnection c = (HttpURLConnection) new URL(url).openConnection();
        c.setConnectTimeout(2000);
        c.setReadTimeout(5000);
        try (InputStream in = c.getInputStream()) {
            return JSON.readTree(new String(in.readAllBytes(), StandardCharsets.UTF_8));
        } finally {
            c.disconnect();
        }
    }

    /** Polls the master's JSON state until {@code condition} holds; fails early when a daemon died. */
    JsonNode awaitMaster(Predicate<JsonNode> condition, Duration timeout, String what) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        String last = "(no answer yet)";
        while (System.nanoTime() < deadline) {
            checkDaemonsAlive();
            try {
                JsonNode s = masterState();
                if (condition.test(s)) {
                    return s;
                }
                last = s.toString();
            } catch (IOException e) {
                last = e.toString();
            }
            Thread.sleep(250);
        }
        throw new AssertionError("timed out after " + timeout + " waiting for " + what + "; last master state: " + last);
    }

    private void checkDaemonsAlive() {
        if (master != null && !master.isAlive()) {
            throw new AssertionError("the Spark master exited (" + master.exitValue() + "):\n"
                    + Jvms.tail(logDir.resolve("spark-master.log"), 4000));
        }
        for (int i = 0; i < workers.size(); i++) {
            if (!workers.get(i).isAlive()) {
                throw new AssertionError("Spark worker " + (i + 1) + " exited (" + workers.get(i).exitValue() + "):\n"
                        + Jvms.tail(logDir.resolve("spark-worker-" + (i + 1) + ".log"), 4000));
            }
        }
    }

    /** The executor JVMs now running under the workers (children of the worker processes). */
    List<ProcessHandle> executorProcesses() {
        List<ProcessHandle> result = new ArrayList<>();
        for (Process w : workers) {
            w.toHandle().descendants()
                    .filter(h -> h.info().commandLine().orElse("").contains("CoarseGrainedExecutorBackend"))
                    .forEach(result::add);
        }
        return result;
    }

    /** The environment Spark processes of this cluster run with (SPARK_HOME, loopback address, ...). */
    Map<String, String> env() {
        return env;
    }

    /**
     * Deletes the copies of the application jar that every executor fetched into its work directory (160 MB
     * each), and Spark's local directories; the executors' logs stay.
     */
    void cleanUpDisk() {
        try {
            Jvms.deleteRecursively(Path.of(env.get("SPARK_LOCAL_DIRS")));   // block managers, Spark's fetch cache
        } catch (IOException e) {
            System.out.println("[it] could not delete " + env.get("SPARK_LOCAL_DIRS") + ": " + e);
        }
        for (Path dir : workerDirs) {
            try (var walk = Files.walk(dir)) {
                for (Path p : walk.filter(p -> p.getFileName().toString().endsWith(".jar")).toList()) {
                    Files.deleteIfExists(p);
                }
            } catch (IOException e) {
                System.out.println("[it] could not clean " + dir + ": " + e);
            }
        }
    }

    @Override
    public void close() {
        workers.forEach(Jvms::stop);
        Jvms.stop(master);
    }
}

package dev.mtpspark.deploy;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * deploy/bin, deploy/kubernetes/submit-k8s.sh, deploy/yarn: the spark-submit command lines the scripts print
 * (--print-command / MTP_DRY_SUBMIT=1, no Spark needed), the YARN properties, the GPU discovery script and the
 * Dockerfiles.
 */
class SubmitScriptsTest {
    record Run(int exitCode, String stdout, String stderr) {
    }

    static Run bash(Map<String, String> env, String script, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("bash", Deploy.deployDir().resolve(script).toString()));
        cmd.addAll(Arrays.asList(args));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().keySet().removeIf(k -> k.startsWith("MTP_") || k.equals("SPARK_HOME") || k.equals("K8S_MASTER"));
        pb.environment().putAll(env);
        Path out = Files.createTempFile("mtp-script", ".out");
        Path err = Files.createTempFile("mtp-script", ".err");
        try {
            Process p = pb.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
            assertTrue(p.waitFor(60, TimeUnit.SECONDS), "script timed out: " + cmd);
            return new Run(p.exitValue(), Files.readString(out), Files.readString(err));
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }

    /** Splits a POSIX shell line as the scripts print it: words, single quotes, backslash escapes outside quotes. */
    static List<String> shellWords(String line) {
        List<String> words = new ArrayList<>();
        StringBuilder w = new StringBuilder();
        boolean inWord = false;
        for (int i = 0; i < line.length(); i++) {
            char c = line.charAt(i);
            if (c == '\'') {
                int end = line.indexOf('\'', i + 1);
                assertTrue(end > 0, "unbalanced quote in " + line);
                w.append(line, i + 1, end);
                i = end;
                inWord = true;
            } else if (c == '\\' && i + 1 < line.length()) {
                w.append(line.charAt(++i));
                inWord = true;
            } else if (Character.isWhitespace(c)) {
                if (inWord) {
                    words.add(w.toString());
                    w.setLength(0);
                    inWord = false;
                }
            } else {
                w.append(c);
                inWord = true;
            }
        }
        if (inWord) {
            words.add(w.toString());
        }
        return words;
    }

    /** A printed spark-submit command line, taken apart. */
    record Submit(List<String> words, Map<String, String> conf, Map<String, String> options, String jar, List<String> jobArgs) {
        static Submit parse(String printed) {
            List<String> w = shellWords(printed.strip());
            Map<String, String> conf = new LinkedHashMap<>();
            Map<String, String> opts = new LinkedHashMap<>();
            int i = 1;
            while (i < w.size() && w.get(i).startsWith("--")) {
                String o = w.get(i);
                String v = w.get(i + 1);
                if (o.equals("--conf")) {
                    int eq = v.indexOf('=');
                    conf.put(v.substring(0, eq), v.substring(eq + 1));
                } else {
                    opts.put(o, v);
                }
                i += 2;
            }
            return new Submit(w, conf, opts, w.get(i), w.subList(i + 1, w.size()));
        }
    }

    static Submit print(Map<String, String> env, String script, String... args) throws Exception {
        Run r = bash(env, script, args);
        assertEquals(0, r.exitCode(), r.stderr());
        assertEquals(1, r.stdout().strip().lines().count(), "one command line: " + r.stdout());
        return Submit.parse(r.stdout());
    }

    @Test
    void scriptsPrintTheSubmitOfTheirSubcommandWithArgumentsPassedThrough() throws Exception {
        for (String job : List.of("tokenize", "train", "evaluate")) {
            Submit s = print(Map.of(), "bin/mtp-" + job, "--print-command", "--config", "conf with space's.yaml", "--set", "a=b", "");
            assertTrue(s.words().get(0).endsWith("spark-submit"), s.words().toString());
            assertEquals("dev.mtpspark.spark.MtpCli", s.options().get("--class"));
            assertTrue(s.jar().endsWith("app/target/mtp-spark-app.jar"), s.jar());
            assertEquals(List.of(job, "--config", "conf with space's.yaml", "--set", "a=b", ""), s.jobArgs());
            assertEquals("org.apache.spark.serializer.KryoSerializer", s.conf().get("spark.serializer"));
            assertEquals("org.nd4j.kryo.Nd4jRegistrator,dev.mtpspark.spark.MtpKryoRegistrator", s.conf().get("spark.kryo.registrator"));
            assertEquals("mtp-" + job, s.options().get("--name"));
            assertFalse(s.conf().containsKey("spark.executorEnv.MALLOC_MMAP_THRESHOLD_"), "glibc's default unless asked");
            assertEquals("passive", s.conf().get("spark.executorEnv.OMP_WAIT_POLICY"));
        }
        Submit tuned = print(Map.of("MTP_MALLOC_MMAP_THRESHOLD", "1048576"), "bin/mtp-train", "--print-command", "--config", "c.yaml");
        assertEquals("1048576", tuned.conf().get("spark.executorEnv.MALLOC_MMAP_THRESHOLD_"));
    }

    @Test
    void memorySettingsAccountForNd4jOffHeap() throws Exception {
        Submit s = print(Map.of("MTP_DRY_SUBMIT", "1", "SPARK_HOME", "/opt/spark", "MTP_APP_JAR", "hdfs:///mtp/lib/app.jar",
                "MTP_EXECUTOR_MEMORY", "16g", "MTP_EXECUTOR_OFFHEAP", "12g", "MTP_MASTER", "yarn"), "bin/mtp-train", "--config", "c.yaml");
        assertEquals("/opt/spark/bin/spark-submit", s.words().get(0));
        assertEquals("yarn", s.options().get("--master"));
        assertEquals("hdfs:///mtp/lib/app.jar", s.jar());
        assertEquals("16g", s.options().get("--executor-memory"));
        String opts = s.conf().get("spark.executor.extraJavaOptions");
        assertEquals("12288m", Deploy.jvmProperty(opts, "org.bytedeco.javacpp.maxbytes"));
        // overhead = off-heap + max(1 GiB, 10% of heap + off-heap) = 12288 + 2868; physical = 16384 + 12288 + 2868 / 2
        assertEquals("15156m", s.conf().get("spark.executor.memoryOverhead"));
        assertEquals("30106m", Deploy.jvmProperty(opts, "org.bytedeco.javacpp.maxphysicalbytes"));
        long container = Deploy.mib("16g") + Deploy.mib(s.conf().get("spark.executor.memoryOverhead"));
        assertTrue(Deploy.mib(Deploy.jvmProperty(opts, "org.bytedeco.javacpp.maxphysicalbytes")) < container,
                "JavaCPP's physical limit lies below the container's");
        assertTrue(Deploy.jvmProperty(s.conf().get("spark.driver.extraJavaOptions"), "org.bytedeco.javacpp.maxbytes") != null);
    }

    @Test
    void extraOptionsGpusAndJava17Flags() throws Exception {
        Submit s = print(Map.of("MTP_GPUS_PER_EXECUTOR", "1", "MTP_ADD_OPENS", "1",
                "MTP_SUBMIT_OPTS", "--conf spark.executor.instances=3 --queue gpu"), "bin/mtp-train", "--print-command");
        assertEquals("1", s.conf().get("spark.executor.resource.gpu.amount"));
        assertEquals("1", s.conf().get("spark.task.resource.gpu.amount"));
        assertEquals("./getGpusResources.sh", s.conf().get("spark.executor.resource.gpu.discoveryScript"));
        assertTrue(s.options().get("--files").endsWith("deploy/gpu/getGpusResources.sh"));
        assertEquals("3", s.conf().get("spark.executor.instances"));
        assertEquals("gpu", s.options().get("--queue"));
        String parentOpens = System.getProperty("mtp.java17.opens");
        if (parentOpens != null && !parentOpens.isBlank()) {
            Set<String> script = new LinkedHashSet<>(Arrays.asList(s.conf().get("spark.executor.extraJavaOptions").split("\\s+")));
            for (String flag : parentOpens.trim().split("\\s+")) {
                assertTrue(script.contains(flag), "MTP_ADD_OPENS=1 passes the parent pom's " + flag);
            }
        }
    }

    @Test
    void badInputExitsWithTwo() throws Exception {
        Run r = bash(Map.of("MTP_EXECUTOR_MEMORY", "8x"), "bin/mtp-train", "--print-command");
        assertEquals(2, r.exitCode());
        assertTrue(r.stderr().contains("MTP_EXECUTOR_MEMORY"), r.stderr());
        Run missing = bash(Map.of("SPARK_HOME", "/nonexistent", "MTP_APP_JAR", "/nonexistent/app.jar"), "bin/mtp-evaluate", "--checkpoint", "x");
        assertEquals(2, missing.exitCode());
        assertTrue(missing.stderr().contains("/nonexistent/app.jar"), missing.stderr());
    }

    @Test
    void kubernetesSubmitUsesImageTemplatesAndSecretFiles() throws Exception {
        Submit s = print(Map.of("MTP_GPUS_PER_EXECUTOR", "1", "K8S_MASTER", "k8s://https://k8s.example.com:6443"),
                "kubernetes/submit-k8s.sh", "--print-command", "train", "--config", "hdfs://namenode:8020/mtp/conf/train.yaml");
        assertEquals("k8s://https://k8s.example.com:6443", s.options().get("--master"));
        assertEquals("cluster", s.options().get("--deploy-mode"));
        assertEquals("local:///opt/mtp/mtp-spark-app.jar", s.jar());
        assertEquals(List.of("train", "--config", "hdfs://namenode:8020/mtp/conf/train.yaml"), s.jobArgs());
        assertTrue(s.conf().get("spark.kubernetes.container.image").contains("cuda"));
        assertEquals("nvidia.com", s.conf().get("spark.executor.resource.gpu.vendor"));
        assertEquals("/opt/mtp/bin/getGpusResources.sh", s.conf().get("spark.executor.resource.gpu.discoveryScript"));
        assertFalse(s.options().containsKey("--files"));
        assertEquals("true", s.conf().get("spark.authenticate"));
        assertFalse(s.conf().containsKey("spark.authenticate.secret"));
        for (String role : List.of("driver", "executor")) {
            assertTrue(Files.isRegularFile(Path.of(s.conf().get("spark.kubernetes." + role + ".podTemplateFile"))));
            assertEquals("/etc/mtp/spark-auth/secret", s.conf().get("spark.authenticate.secret." + role + ".file"));
        }
        Run noMaster = bash(Map.of(), "kubernetes/submit-k8s.sh", "train");
        assertEquals(2, noMaster.exitCode());
    }

    static Properties yarnDefaults() throws IOException {
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(Deploy.deployDir().resolve("yarn/spark-defaults.conf"), StandardCharsets.UTF_8)) {
            p.load(r); // how Spark reads a properties file (Utils.getPropertiesFromFile)
        }
        return p;
    }

    @Test
    void yarnDefaultsParseAndCarryTheRequiredKeys() throws Exception {
        Properties p = yarnDefaults();
        Map<String, String> required = Map.of(
                "spark.master", "yarn",
                "spark.serializer", "org.apache.spark.serializer.KryoSerializer",
                "spark.kryo.registrator", "org.nd4j.kryo.Nd4jRegistrator,dev.mtpspark.spark.MtpKryoRegistrator",
                "spark.executor.resource.gpu.amount", "1",
                "spark.task.resource.gpu.amount", "1",
                "spark.executor.resource.gpu.discoveryScript", "./getGpusResources.sh",
                "spark.authenticate", "true",
                "spark.executorEnv.OMP_WAIT_POLICY", "passive");
        required.forEach((k, v) -> assertEquals(v, p.getProperty(k), k));
        for (String k : p.stringPropertyNames()) {
            assertTrue(k.startsWith("spark."), "not a Spark property: " + k);
            assertFalse(p.getProperty(k).isBlank(), "empty value: " + k);
        }
        assertTrue(p.getProperty("spark.yarn.dist.files").startsWith("hdfs://"), "discovery script shipped from HDFS");
        assertFalse(p.containsKey("spark.authenticate.secret"), "YARN generates the secret");
        for (String role : List.of("driver", "executor")) {
            String maxBytes = Deploy.jvmProperty(p.getProperty("spark." + role + ".extraJavaOptions"), "org.bytedeco.javacpp.maxbytes");
            assertTrue(Deploy.mib(p.getProperty("spark." + role + ".memoryOverhead")) > Deploy.mib(maxBytes), role);
        }
    }

    @Test
    void yarnSubmitAgreesWithTheDefaultsFile() throws Exception {
        Submit s = print(Map.of(), "yarn/submit-yarn.sh", "--print-command", "train", "--config", "hdfs:///mtp/conf/gpu-cluster.yaml");
        assertEquals("yarn", s.options().get("--master"));
        assertEquals("cluster", s.options().get("--deploy-mode"));
        assertTrue(Files.isRegularFile(Path.of(s.options().get("--properties-file"))));
        assertEquals("hdfs:///mtp/lib/mtp-spark-app.jar", s.jar());
        Properties p = yarnDefaults();
        // The script's defaults and the file's must not contradict each other (the command line would win).
        for (Map.Entry<String, String> e : s.conf().entrySet()) {
            if (p.containsKey(e.getKey())) {
                assertEquals(p.getProperty(e.getKey()), e.getValue(), e.getKey());
            }
        }
        assertEquals(p.getProperty("spark.executor.memory"), s.options().get("--executor-memory"));
        assertEquals(p.getProperty("spark.driver.memory"), s.options().get("--driver-memory"));
    }

    @Test
    void gpuDiscoveryScriptPrintsSparkResourceJson() throws Exception {
        Run r = bash(Map.of("MTP_GPU_ADDRESSES", "0,1"), "gpu/getGpusResources.sh");
        assertEquals(0, r.exitCode(), r.stderr());
        assertEquals("{\"name\": \"gpu\", \"addresses\": [\"0\",\"1\"]}", r.stdout().strip());
        Run visible = bash(Map.of("CUDA_VISIBLE_DEVICES", "3"), "gpu/getGpusResources.sh");
        assertEquals("{\"name\": \"gpu\", \"addresses\": [\"0\"]}", visible.stdout().strip());
    }

    @Test
    void dockerfilesUseSpark35Java17AndRunAsSparkUser() throws IOException {
        for (String f : List.of("Dockerfile", "Dockerfile.cuda")) {
            String d = Files.readString(Deploy.deployDir().resolve("kubernetes/" + f));
            assertTrue(d.contains("apache/spark:3.5.") && d.contains("-scala2.12-java17-ubuntu"), f);
            assertTrue(d.contains("COPY --chown=185:185 app/target/mtp-spark-app.jar /opt/mtp/mtp-spark-app.jar"), f);
            assertTrue(d.strip().lines().filter(l -> l.startsWith("USER ")).reduce((a, b) -> b).orElse("").equals("USER 185"), f + " ends as the spark user");
        }
        assertTrue(Files.readString(Deploy.deployDir().resolve("kubernetes/Dockerfile.cuda")).contains("nvidia/cuda:11.6"));
    }
}

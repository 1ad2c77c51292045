package dev.mtpspark.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.mtpspark.spark.MtpCli;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Shared helpers of the deploy/ tests: paths, YAML, the job's dry runs, and one tiny tokenized dataset per JVM. */
final class Deploy {
    static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    /** The stand-in for {@code hdfs://namenode:8020/mtp/} (manifests) and {@code hdfs:///mtp/} (defaults). */
    private static Path mtpRoot;

    private Deploy() {
    }

    /** deploy/ (the module's base directory: Surefire runs in it). */
    static Path deployDir() {
        Path here = Paths.get("").toAbsolutePath();
        if (Files.isDirectory(here.resolve("kubernetes")) && Files.isDirectory(here.resolve("bin"))) {
            return here;
        }
        return here.resolve("deploy");
    }

    static Path sharedDir() {
        String p = System.getProperty("mtp.shared.dir");
        return p != null ? Paths.get(p) : deployDir().getParent().resolveSibling("shared");
    }

    static JsonNode yaml(Path file) {
        try {
            return YAML.readTree(file.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static List<String> strings(JsonNode array) {
        List<String> out = new ArrayList<>();
        array.forEach(n -> out.add(n.asText()));
        return out;
    }

    /**
     * A local directory laid out like the cluster's /mtp: corpora/corpus/ (a small text), datasets/corpus (tokenized
     * with the char tokenizer, T = 16, n = 2, by the real tokenize job in Spark local mode), conf/train.yaml and
     * conf/gpu-cluster.yaml (a tiny model fitting that dataset). Made once per JVM.
     */
    static synchronized Path mtpRoot() throws IOException {
        if (mtpRoot != null) {
            return mtpRoot;
        }
        Path root = Files.createTempDirectory("mtp-deploy-test").resolve("mtp");
        Runtime.getRuntime().addShutdownHook(new Thread(() -> deleteTree(root.getParent())));
        Path corpus = Files.createDirectories(root.resolve("corpora/corpus"));
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < 200; i++) {
            text.append("line ").append(i).append(": the quick brown fox jumps over the lazy dog.\n");
        }
        Files.writeString(corpus.resolve("part-0.txt"), text);
        Files.createDirectories(root.resolve("datasets"));
        Files.createDirectories(root.resolve("runs"));
        String config = String.join("\n",
                "# tiny model for the deploy/ tests: fits datasets/corpus (T = 16, n = 2)",
                "model:",
                "  context-length: 16",
                "  predicted-tokens: 2",
                "  model-width: 32",
                "  attention-heads: 2",
                "  trunk-depth: 1",
                "  mlp-width: 64",
                "");
        Files.createDirectories(root.resolve("conf"));
        Files.writeString(root.resolve("conf/train.yaml"), config);
        Files.writeString(root.resolve("conf/gpu-cluster.yaml"), config);

        String before = System.getProperty("spark.master");
        System.setProperty("spark.master", "local[2]");
        try {
            int rc = MtpCli.execute("tokenize", "--input", corpus.toString(), "--tokenizer", "char",
                    "--context-length", "16", "--predicted-tokens", "2", "--partitions", "2",
                    "--output", root.resolve("datasets/corpus").toString());
            assertEquals(0, rc, "tokenizing the test corpus");
        } finally {
            if (before == null) {
                System.clearProperty("spark.master");
            } else {
                System.setProperty("spark.master", before);
            }
        }
        mtpRoot = root;
        return root;
    }

    /** Runs the job's command line and returns exit code and everything it printed. */
    static Result run(List<String> args) {
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        PrintStream capture = new PrintStream(buf, true, StandardCharsets.UTF_8);
        int rc;
        try {
            System.setOut(capture);
            System.setErr(capture);
            rc = MtpCli.execute(args.toArray(String[]::new));
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
        String text = buf.toString(StandardCharsets.UTF_8);
        out.println("$ mtp " + String.join(" ", args) + "\n" + text);
        return new Result(rc, text);
    }

    record Result(int exitCode, String output) {
    }

    /** Replaces every {{ params.NAME }} / {{ NAME }} by its value; fails on an unknown name or a leftover template. */
    static String render(String template, Map<String, String> values) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("\\{\\{\\s*(?:params\\.)?(\\w+)\\s*}}").matcher(template);
        StringBuilder b = new StringBuilder();
        while (m.find()) {
            String v = values.get(m.group(1));
            assertTrue(v != null, "no sample value for template variable " + m.group(1) + " in " + template);
            m.appendReplacement(b, java.util.regex.Matcher.quoteReplacement(v));
        }
        m.appendTail(b);
        assertTrue(!b.toString().contains("{{") && !b.toString().contains("{%"), "unrendered template left in " + b);
        return b.toString();
    }

    static void deleteTree(Path p) {
        if (p == null || !Files.exists(p)) {
            return;
        }
        try (Stream<Path> s = Files.walk(p)) {
            s.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        } catch (IOException ignored) {
            // temporary files only
        }
    }

    /** A JVM/Spark size (8g, 9831m) in MiB. */
    static long mib(String size) {
        String s = size.trim().toLowerCase();
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(\\d+)([kmgt]?)b?").matcher(s);
        assertTrue(m.matches(), "not a size: " + size);
        long n = Long.parseLong(m.group(1));
        return switch (m.group(2)) {
            case "k" -> (n + 1023) / 1024;
            case "m" -> n;
            case "g" -> n * 1024;
            case "t" -> n * 1024 * 1024;
            default -> (n + (1 << 20) - 1) >> 20;
        };
    }

    /** The value of -Dname=value in a string of JVM options. */
    static String jvmProperty(String options, String name) {
        for (String o : options.trim().split("\\s+")) {
            if (o.startsWith("-D" + name + "=")) {
                return o.substring(name.length() + 3);
            }
        }
        return null;
    }
}

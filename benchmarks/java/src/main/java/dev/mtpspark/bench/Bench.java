package dev.mtpspark.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import org.nd4j.linalg.factory.Nd4j;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;

/** Helpers shared by the training benchmarks: machine description, quantiles, rounding, JSON output. */
final class Bench {
    private Bench() {
    }

    /** Cores, CPU model, memory, JVM, ND4J backend and threads, and the load average when the benchmark started. */
    static Map<String, Object> machine() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("cores", Runtime.getRuntime().availableProcessors());
        m.put("cpu", firstValue(Path.of("/proc/cpuinfo"), "model name"));
        m.put("memory", firstValue(Path.of("/proc/meminfo"), "MemTotal"));
        m.put("java", System.getProperty("java.version"));
        m.put("os", System.getProperty("os.name") + " " + System.getProperty("os.arch"));
        m.put("maxHeapMiB", Runtime.getRuntime().maxMemory() >> 20);
        m.put("loadAverageAtStart", read(Path.of("/proc/loadavg")));
        try {
            Properties p = Nd4j.getExecutioner().getEnvironmentInformation();
            m.put("nd4jBackend", Nd4j.getBackend().getClass().getSimpleName());
            m.put("nd4jOmpThreads", String.valueOf(p.get("omp.threads")));
            m.put("nd4jBlas", String.valueOf(p.get("blas.vendor")));
        } catch (RuntimeException e) {
            m.put("nd4j", "unavailable: " + e);
        }
        return m;
    }

    static String loadAverage() {
        return read(Path.of("/proc/loadavg"));
    }

    private static String read(Path p) {
        try {
            return Files.readString(p).trim();
        } catch (IOException | RuntimeException e) {
            return "unknown";
        }
    }

    private static String firstValue(Path p, String key) {
        try {
            for (String line : Files.readAllLines(p)) {
                if (line.startsWith(key)) {
                    return line.substring(line.indexOf(':') + 1).trim();
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux
        }
        return "unknown";
    }

    /** Linear-interpolated quantile of a sorted array. */
    static double quantile(double[] sorted, double q) {
        double pos = q * (sorted.length - 1);
        int lo = (int) Math.floor(pos);
        int hi = Math.min(sorted.length - 1, lo + 1);
        return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
    }

    static double round(double v, int digits) {
        double f = Math.pow(10, digits);
        return Math.round(v * f) / f;
    }

    /**
     * Runs {@code task} on a fresh thread and waits for it. The benchmarks time {@code fit} off the JVM's main
     * thread, as Spark's executors do: on the 2-vCPU machine of docs/performance.md, {@code fit} on the main
     * thread was in the slow one of two step-time modes (about 0.68 s against 0.42 s for the n = 4 recipe
     * model) in every observation, while other threads showed both modes; the cause is not known yet.
     */
    static <T> T offMainThread(java.util.concurrent.Callable<T> task) throws Exception {
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newSingleThreadExecutor(r -> new Thread(r, "bench-worker"));
        try {
            return pool.submit(task).get();
        } catch (java.util.concurrent.ExecutionException e) {
            throw e.getCause() instanceof Exception ex ? ex : e;
        } finally {
            pool.shutdown();
        }
    }

    /** The opening fields every result file shares: benchmark name, date, machine and the command that reproduces it. */
    static Map<String, Object> resultHeader(String benchmark, String command) {
        Map<String, Object> out = new java.util.LinkedHashMap<>();
        out.put("benchmark", benchmark);
        out.put("date", java.time.Instant.now().toString());
        out.put("machine", machine());
        out.put("command", command);
        return out;
    }

    static void writeJson(Path file, Object value) throws IOException {
        Path abs = file.toAbsolutePath();
        Files.createDirectories(abs.getParent());
        Files.writeString(abs, new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(value) + "\n");
    }
}

package dev.mtpspark.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mtpspark.core.config.HeadArchitecture;
import dev.mtpspark.core.config.MtpModelConfig;
import dev.mtpspark.core.model.MtpBatches;
import dev.mtpspark.core.model.MtpModel;
import dev.mtpspark.core.train.OptimizerSettings;
import org.bytedeco.javacpp.Pointer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.dataset.api.MultiDataSet;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Peak memory of a training step against n and the vocabulary size. Every configuration
 * runs in a fresh JVM (peak figures are per process), which builds the model, then runs a few training steps
 * ({@code MtpModel.fit}, AdamW) on random windows while a thread samples ND4J's off-heap bytes.
 *
 * <p>ND4J M2.1's CPU backend allocates its arrays in native code and does not count them (JavaCPP's
 * {@code Pointer.totalBytes()} and ND4J's allocation tracker see only workspaces), so off-heap memory is measured
 * from the operating system: the child's heap is fixed and pre-touched ({@code -Xms = -Xmx}, AlwaysPreTouch), so
 * resident memory minus the heap is the native memory — ND4J's arrays and workspaces plus the JVM's own (code,
 * metaspace, threads; the same in every configuration). Reported per configuration: its peak, sampled every
 * millisecond; its value after the model was built (parameters, gradients, updater state); the peak JVM heap
 * in use (sum of the heap pools' peak usage); and the process's exact peak resident set ({@code VmHWM}).
 *
 * <p>Model: width 384, 6 attention heads, MLP 1536, T 256, batch 4 (the larger shape of the step benchmark), a
 * 5-block trunk plus n parallel heads (so n = 1 is the 6-block model), at vocabularies 256 and 32,000.
 *
 * <p>The model's one training step runs the heads one at a time (the paper's memory-efficient order).
 *
 * <p>Usage: {@code PeakMemoryBenchmark <results.json> [steps=2] [n-list=1,2,4,8] [vocab-list=256,32000]}
 */
public final class PeakMemoryBenchmark {
    private static final long SEED = 1337;
    private static final int WIDTH = 384;
    private static final int HEADS = 6;
    private static final int MLP = 1536;
    private static final int CONTEXT = 256;
    private static final int BATCH = 4;
    private static final int TRUNK = 5;
    private static final String CHILD_HEAP = "1g";

    private PeakMemoryBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length > 0 && args[0].equals("--child")) {
            child(Integer.parseInt(args[1]), Integer.parseInt(args[2]), Integer.parseInt(args[3]));
            return;
        }
        Path results = Path.of(args[0]);
        int steps = args.length > 1 ? Integer.parseInt(args[1]) : 2;
        int[] ns = args.length > 2 ? parseList(args[2]) : new int[] {1, 2, 4, 8};
        int[] vocabs = args.length > 3 ? parseList(args[3]) : new int[] {256, 32000};
        if (args.length > 4) {
            throw new IllegalArgumentException("usage: PeakMemoryBenchmark <results.json> [steps] [n-list] [vocab-list] (the step "
                    + "implementations of earlier releases are gone: there is one training step now)");
        }

        String threshold = System.getenv("MALLOC_MMAP_THRESHOLD_");
        Map<String, Object> out = Bench.resultHeader("peak-memory", (threshold == null ? "MALLOC_MMAP_THRESHOLD_= " : "")
                + "benchmarks/peak-memory.sh " + String.join(" ", Arrays.copyOfRange(args, 1, args.length)));
        out.put("loadAverageAtStart", Bench.loadAverage());
        out.put("MALLOC_MMAP_THRESHOLD_", threshold == null ? "unset (glibc default: dynamic, up to 32 MiB)" : threshold);
        out.put("method", "one fresh JVM per configuration; model built, then " + steps + " training steps (MtpModel.fit, AdamW) on random "
                + "windows; heap fixed and pre-touched (-Xms = -Xmx = " + CHILD_HEAP + ", AlwaysPreTouch); offHeap = resident memory minus "
                + "the heap (ND4J arrays and workspaces + the JVM's own native memory), sampled every 1 ms; heap = sum of the heap pools' "
                + "peak usage; rss = VmHWM");
        out.put("shape", Map.of("modelWidth", WIDTH, "attentionHeads", HEADS, "mlpWidth", MLP, "contextLength", CONTEXT,
                "batch", BATCH, "trunkDepth", TRUNK, "headArchitecture", "parallel", "dataType", "float32"));

        List<Map<String, Object>> rows = new ArrayList<>();
        System.out.printf("| V | n | off-heap peak MiB | off-heap after build MiB | step working set MiB | heap peak MiB | RSS peak MiB | ms/step |%n");
        System.out.printf("| --- | --- | --- | --- | --- | --- | --- | --- |%n");
        for (int vocab : vocabs) {
            for (int n : ns) {
                Map<String, Object> row = runChild(vocab, n, steps);
                rows.add(row);
                if (row.containsKey("error")) {
                    System.out.printf("| %d | %d | failed: %s |%n", vocab, n, row.get("error"));
                } else {
                    System.out.printf("| %d | %d | %,.0f | %,.0f | %,.0f | %,.0f | %,.0f | %,.0f |%n", vocab, n,
                            mib(row, "offHeapPeakBytes"), mib(row, "offHeapAfterBuildBytes"),
                            mib(row, "offHeapPeakBytes") - mib(row, "offHeapAfterBuildBytes"), mib(row, "heapPeakBytes"),
                            mib(row, "rssPeakBytes"), ((Number) row.get("medianStepMs")).doubleValue());
                }
            }
        }
        out.put("results", rows);
        out.put("ratios", ratios(rows, vocabs, ns));
        Bench.writeJson(results, out);
        System.out.println("results written to " + results);
    }

    /** Off-heap peak of every configuration relative to n = 1 of the same vocabulary. */
    private static Map<String, Object> ratios(List<Map<String, Object>> rows, int[] vocabs, int[] ns) {
        Map<String, Object> ratios = new LinkedHashMap<>();
        for (int vocab : vocabs) {
            Map<String, Object> byN = new LinkedHashMap<>();
            Double base = null;
            for (Map<String, Object> r : rows) {
                if (matches(r, vocab, 1) && r.containsKey("offHeapPeakBytes")) {
                    base = ((Number) r.get("offHeapPeakBytes")).doubleValue();
                }
            }
            for (int n : ns) {
                for (Map<String, Object> r : rows) {
                    if (base != null && matches(r, vocab, n) && r.containsKey("offHeapPeakBytes")) {
                        byN.put("n" + n, Bench.round(((Number) r.get("offHeapPeakBytes")).doubleValue() / base, 3));
                    }
                }
            }
            ratios.put("V" + vocab + "-offHeapPeak-vs-n1", byN);
        }
        return ratios;
    }

    private static boolean matches(Map<String, Object> r, int vocab, int n) {
        return r.get("vocab").equals(vocab) && r.get("n").equals(n);
    }

    private static double mib(Map<String, Object> row, String key) {
        return ((Number) row.get(key)).doubleValue() / (1024.0 * 1024.0);
    }

    private static Map<String, Object> runChild(int vocab, int n, int steps) throws IOException, InterruptedException {
        Path json = Files.createTempFile("mtp-peak-memory", ".json");
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        for (String arg : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (!arg.startsWith("-Xmx") && !arg.startsWith("-Xms")) {
                cmd.add(arg);
            }
        }
        cmd.addAll(List.of("-Xms" + CHILD_HEAP, "-Xmx" + CHILD_HEAP, "-XX:+AlwaysPreTouch"));
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), PeakMemoryBenchmark.class.getName(),
                "--child", String.valueOf(vocab), String.valueOf(n), String.valueOf(steps)));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .redirectInput(ProcessBuilder.Redirect.PIPE).start();
        p.getOutputStream().write((json + "\n").getBytes());
        p.getOutputStream().close();
        boolean finished = p.waitFor(30, TimeUnit.MINUTES);
        Map<String, Object> row;
        if (!finished) {
            p.destroyForcibly();
            row = new LinkedHashMap<>();
            row.put("error", "timed out after 30 min");
        } else if (p.exitValue() != 0 || Files.size(json) == 0) {
            row = new LinkedHashMap<>();
            row.put("error", "child JVM exited with " + p.exitValue());
        } else {
            @SuppressWarnings("unchecked")
            Map<String, Object> read = new ObjectMapper().readValue(json.toFile(), Map.class);
            row = read;
        }
        row.putIfAbsent("vocab", vocab);
        row.putIfAbsent("n", n);
        Files.deleteIfExists(json);
        return row;
    }

    /** Runs in the fresh JVM: reads the result path on stdin (its stdout is discarded), writes the figures there. */
    private static void child(int vocab, int n, int steps) throws Exception {
        Path json = Path.of(new String(System.in.readAllBytes()).trim());
        AtomicLong peak = new AtomicLong();
        Thread sampler = new Thread(() -> {
            while (!Thread.currentThread().isInterrupted()) {
                peak.accumulateAndGet(nativeBytes(), Math::max);
                try {
                    Thread.sleep(1);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }, "off-heap-sampler");
        sampler.setDaemon(true);
        sampler.start();

        Map<String, Object> row = Bench.offMainThread(() -> {
            MtpModelConfig config = MtpModelConfig.builder().vocabSize(vocab).contextLength(CONTEXT).modelWidth(WIDTH)
                    .attentionHeads(HEADS).trunkDepth(TRUNK).mlpWidth(MLP).predictedTokens(n)
                    .headArchitecture(HeadArchitecture.PARALLEL).dropout(0).seed(SEED)
                    .stepThreads(Integer.getInteger("mtp.bench.step-threads", 0)).build();   // 0: one shard per core
            MtpModel model = MtpModel.create(config, OptimizerSettings.nanoGptRecipe(2000), DataType.FLOAT);
            Random random = new Random(SEED);
            List<MultiDataSet> batches = new ArrayList<>();
            for (int s = 0; s < steps; s++) {
                int[][] windows = new int[BATCH][config.windowLength()];
                for (int[] w : windows) {
                    for (int i = 0; i < w.length; i++) {
                        w[i] = random.nextInt(vocab);
                    }
                }
                batches.add(MtpBatches.fromWindows(windows, config, DataType.FLOAT));
            }
            long afterBuild = nativeBytes();
            double[] ms = new double[steps];
            for (int s = 0; s < steps; s++) {
                long t0 = System.nanoTime();
                model.fit(batches.get(s));
                ms[s] = (System.nanoTime() - t0) / 1e6;
            }
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("vocab", vocab);
            r.put("n", n);
            r.put("parameters", model.parameterCounts().total());
            r.put("offHeapAfterBuildBytes", afterBuild);
            r.put("stepMs", Arrays.stream(ms).map(x -> Bench.round(x, 0)).toArray());
            double[] sorted = ms.clone();
            Arrays.sort(sorted);
            r.put("medianStepMs", Bench.round(Bench.quantile(sorted, 0.5), 0));
            r.put("finalScore", model.graph().score());
            return r;
        });
        sampler.interrupt();
        sampler.join();
        long heapPeak = 0;
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == MemoryType.HEAP && pool.getPeakUsage() != null) {
                heapPeak += pool.getPeakUsage().getUsed();
            }
        }
        row.put("offHeapPeakBytes", Math.max(peak.get(), nativeBytes()));
        row.put("heapPeakBytes", heapPeak);
        row.put("rssPeakBytes", vmHwmBytes());
        Bench.writeJson(json, row);
    }

    /** Resident memory that is not the (pre-touched, fixed-size) heap. */
    private static long nativeBytes() {
        return Pointer.physicalBytes() - Runtime.getRuntime().totalMemory();
    }

    private static long vmHwmBytes() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmHWM:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        }
        return -1;
    }

    private static int[] parseList(String s) {
        return Arrays.stream(s.split(",")).mapToInt(x -> Integer.parseInt(x.trim())).toArray();
    }
}

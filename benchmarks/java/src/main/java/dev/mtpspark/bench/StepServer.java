package dev.mtpspark.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mtpspark.core.config.HeadArchitecture;
import dev.mtpspark.core.config.MtpModelConfig;
import dev.mtpspark.core.config.NormType;
import dev.mtpspark.core.config.PositionalEncoding;
import dev.mtpspark.core.model.MtpBatches;
import dev.mtpspark.core.model.MtpModel;
import dev.mtpspark.core.export.NpzExport;
import dev.mtpspark.core.model.ParameterCounts;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.api.MultiDataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.BufferedReader;
import java.io.File;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The Java side of the interleaved Java-vs-PyTorch training-step benchmark
 * ({@code benchmarks/java-vs-pytorch.sh}, driven by {@code benchmarks/reference/bench_interleaved.py}).
 *
 * <p>The process stays alive and answers one command per line on standard input with one JSON line on
 * standard output, so the driver can alternate blocks of Java and PyTorch steps without paying JVM start-up
 * or graph building inside the measurement:
 * <ul>
 *   <li>{@code info}: machine, JVM and ND4J description;</li>
 *   <li>{@code build <json>}: builds a model (single precision, plain Adam) from MtpModelConfig keys
 *       ({@code headArchitecture}, {@code positionalEncoding}, {@code normType} optional: PARALLEL, LEARNED,
 *       LAYER_NORM; the reply echoes what was built) plus
 *       {@code batch}, {@code learningRate}, {@code windows} (an int {@code .npy} [P, B, T + n] of token
 *       windows, turned into P batches outside any timing) and optionally {@code exportWeights} (an
 *       {@code .npz} path for the initial parameters, so the reference can start from the same weights);</li>
 *   <li>{@code steps <k>}: k training steps ({@link MtpModel#fit}: forward, backward, Adam update) on the
 *       batches in turn; replies with the wall time of each step in milliseconds;</li>
 *   <li>{@code gemm <size> <reps>}: single-precision {@code size²} matrix products through ND4J
 *       ({@link Nd4j#gemm}), replies with GFLOP/s per repetition;</li>
 *   <li>{@code quit}.</li>
 * </ul>
 * Replies have an {@code event} field ({@code error} with a message on failure). Standard output carries
 * only replies: {@code System.out} is redirected to standard error, so
 * DL4J's and ND4J's own printing cannot corrupt the protocol.
 *
 * <p>The source uses only API that the previous release has too, so {@code benchmarks/baseline-java.sh} compiles it
 * against a checkout of that release for before/after runs ({@code bench_interleaved.py --baseline-java}).
 *
 * <p>All model work runs on one worker thread, never on the JVM main thread: {@code fit} on the main thread
 * was measurably slower on the benchmark machine (see {@link Bench#offMainThread}).
 */
public final class StepServer {
    private static final Logger log = LoggerFactory.getLogger(StepServer.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final PrintStream protocol;
    private final ExecutorService worker = Executors.newSingleThreadExecutor(r -> new Thread(r, "step-worker"));
    private MtpModel model;
    private List<MultiDataSet> batches = List.of();
    private int next;

    private StepServer(PrintStream protocol) {
        this.protocol = protocol;
    }

    public static void main(String[] args) throws Exception {
        PrintStream protocol = new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);
        System.setOut(System.err);
        installSameDiffNoiseFilter();
        new StepServer(protocol).serve();
    }

    private void serve() throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        reply(Map.of("event", "ready"));
        String line;
        while ((line = in.readLine()) != null) {
            line = line.trim();
            if (line.isEmpty()) {
                continue;
            }
            int space = line.indexOf(' ');
            String command = space < 0 ? line : line.substring(0, space);
            String argument = space < 0 ? "" : line.substring(space + 1).trim();
            if (command.equals("quit")) {
                break;
            }
            try {
                reply(onWorker(() -> handle(command, argument)));
            } catch (Exception e) {
                log.warn("command '{}' failed", command, e);
                reply(Map.of("event", "error", "command", command, "message", String.valueOf(e)));
            }
        }
        worker.shutdown();
        reply(Map.of("event", "bye"));
    }

    private Map<String, Object> handle(String command, String argument) throws Exception {
        return switch (command) {
            case "info" -> info();
            case "build" -> build(JSON.readTree(argument));
            case "steps" -> steps(Integer.parseInt(argument));
            case "gemm" -> {
                String[] parts = argument.split("\\s+");
                yield gemm(Integer.parseInt(parts[0]), Integer.parseInt(parts[1]));
            }
            default -> throw new IllegalArgumentException("unknown command '" + command + "' (info, build, steps, gemm, quit)");
        };
    }

    private Map<String, Object> info() {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("event", "info");
        r.put("machine", Bench.machine());
        r.put("ompNumThreadsEnv", String.valueOf(System.getenv("OMP_NUM_THREADS")));
        return r;
    }

    private Map<String, Object> build(JsonNode c) throws Exception {
        long t0 = System.nanoTime();
        model = null;
        batches = List.of();
        System.gc();                                          // release the previous model's buffers first
        MtpModelConfig config = MtpModelConfig.builder()
                .vocabSize(c.get("vocabSize").asInt()).contextLength(c.get("contextLength").asInt())
                .modelWidth(c.get("modelWidth").asInt()).attentionHeads(c.get("attentionHeads").asInt())
                .trunkDepth(c.get("trunkDepth").asInt()).mlpWidth(c.get("mlpWidth").asInt())
                .predictedTokens(c.get("predictedTokens").asInt())
                .headArchitecture(HeadArchitecture.valueOf(c.path("headArchitecture").asText("PARALLEL")))
                .positionalEncoding(PositionalEncoding.valueOf(c.path("positionalEncoding").asText("LEARNED")))
                .normType(NormType.valueOf(c.path("normType").asText("LAYER_NORM")))
                .stepThreads(c.path("stepThreads").asInt(0))
                .dropout(0).seed(c.path("seed").asLong(1234)).build();
        double lr = c.path("learningRate").asDouble(1e-3);
        MtpModel built = MtpModel.create(config, new Adam(lr), DataType.FLOAT);

        INDArray windows = Nd4j.createFromNpyFile(new File(c.get("windows").asText())).castTo(DataType.INT32);
        int batch = c.get("batch").asInt();
        if (windows.rank() != 3 || windows.size(1) != batch || windows.size(2) != config.windowLength()) {
            throw new IllegalArgumentException("windows must be [P, " + batch + ", " + config.windowLength() + "], got "
                    + java.util.Arrays.toString(windows.shape()));
        }
        List<MultiDataSet> list = new ArrayList<>();
        for (int p = 0; p < windows.size(0); p++) {
            int[][] w = new int[batch][];
            for (int b = 0; b < batch; b++) {
                w[b] = windows.slice(p).getRow(b).dup().toIntVector();
            }
            list.add(MtpBatches.fromWindows(w, config, DataType.FLOAT));
        }
        if (c.hasNonNull("exportWeights")) {
            NpzExport.writeParameters(built.graph(), Path.of(c.get("exportWeights").asText()));
        }
        model = built;
        batches = list;
        next = 0;

        ParameterCounts p = built.parameterCounts();
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("event", "built");
        r.put("parameters", p.total());
        r.put("parameterCounts", Map.of("embedding", p.embedding(), "trunk", p.trunk(), "heads", p.heads(), "unembedding", p.unembedding()));
        r.put("batches", list.size());
        r.put("headArchitecture", config.headArchitecture().name());
        r.put("positionalEncoding", config.positionalEncoding().name());
        r.put("normType", config.normType().name());
        r.put("buildMs", (System.nanoTime() - t0) / 1e6);
        log.info("built {} ({} parameters)", config, p.total());
        return r;
    }

    private Map<String, Object> steps(int k) {
        if (model == null) {
            throw new IllegalStateException("no model: send 'build' first");
        }
        double[] ms = new double[k];
        for (int i = 0; i < k; i++) {
            MultiDataSet batch = batches.get(next);
            next = (next + 1) % batches.size();
            long t0 = System.nanoTime();
            model.fit(batch);
            ms[i] = (System.nanoTime() - t0) / 1e6;
        }
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("event", "steps");
        r.put("ms", ms);
        r.put("score", model.graph().score());
        return r;
    }

    private Map<String, Object> gemm(int size, int reps) {
        INDArray a = Nd4j.rand(DataType.FLOAT, size, size);
        INDArray b = Nd4j.rand(DataType.FLOAT, size, size);
        INDArray c = Nd4j.create(DataType.FLOAT, size, size);
        Nd4j.gemm(a, b, c, false, false, 1.0, 0.0);          // warm-up: thread pool, page faults
        double[] gflops = new double[reps];
        for (int i = 0; i < reps; i++) {
            long t0 = System.nanoTime();
            Nd4j.gemm(a, b, c, false, false, 1.0, 0.0);
            gflops[i] = 2.0 * size * size * (double) size / (System.nanoTime() - t0);
        }
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("event", "gemm");
        r.put("size", size);
        r.put("gflops", gflops);
        return r;
    }

    /**
     * Builds before this implementation (SameDiff graphs) print a line per differentiated op to standard output and
     * ship a filter for it; when this class is compiled against such a build (the benchmarks' baseline), install it,
     * as that build's own step server did. Absent in this build: nothing to do.
     */
    private static void installSameDiffNoiseFilter() {
        try {
            Class.forName("dev.mtpspark.core.model.SameDiffNoiseFilter").getMethod("install").invoke(null);
        } catch (ClassNotFoundException e) {
            // this build has no SameDiff graphs
        } catch (ReflectiveOperationException e) {
            log.warn("could not install the SameDiff output filter", e);
        }
    }

    private <T> T onWorker(Callable<T> task) throws Exception {
        try {
            return worker.submit(task).get();
        } catch (ExecutionException e) {
            throw e.getCause() instanceof Exception ex ? ex : e;
        }
    }

    private void reply(Map<String, Object> value) throws Exception {
        protocol.println(JSON.writeValueAsString(value));
        protocol.flush();
    }
}

package dev.mtpspark.bench;

import dev.mtpspark.core.config.HeadArchitecture;
import dev.mtpspark.core.config.MtpModelConfig;
import dev.mtpspark.core.config.NormType;
import dev.mtpspark.core.config.PositionalEncoding;
import dev.mtpspark.core.model.MtpBatches;
import dev.mtpspark.core.model.MtpModel;
import dev.mtpspark.core.export.NpzExport;
import dev.mtpspark.core.stats.HorizonStats;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.api.MultiDataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.NoOp;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Java side of the PyTorch parity check ({@code benchmarks/reference/parity.sh}): for each case it builds an
 * {@link MtpModel}, and writes to {@code <outdir>}
 * <ul>
 *   <li>{@code <case>.weights.npz}: the initial parameters under DL4J's names ({@link NpzExport});</li>
 *   <li>{@code <case>.batch.npz}: {@code features [B, C, T]} and {@code labels [B, n, T]} as int64 token ids;</li>
 *   <li>{@code <case>.gradients.npz}: the gradient of every parameter;</li>
 *   <li>{@code cases.json}: per case the configuration, the per-horizon mean cross-entropy (from the logits,
 *       {@link HorizonStats}), DL4J's score and the L2 norm of every parameter's gradient.</li>
 * </ul>
 * {@code benchmarks/reference/parity.py} recomputes the same quantities with autograd and compares.
 *
 * <p>The gradient is what {@link ComputationGraph#computeGradientAndScore()} leaves in
 * {@link ComputationGraph#gradient()}: the gradient of the loss summed over the batch, {@code Σ_b Σ_k w_k CE_k(b)},
 * whereas the score is that sum divided by the batch size (DL4J's updater divides the gradient by the
 * batch size later). The updater is {@link NoOp} and nothing is normalised or clipped.
 *
 * <p>Usage: {@code ReferenceParityDump <outdir>}
 */
public final class ReferenceParityDump {
    private static final Logger log = LoggerFactory.getLogger(ReferenceParityDump.class);
    private static final int BATCH = 3;

    private ReferenceParityDump() {
    }

    /** One case: an architecture, a norm, a positional encoding and a floating-point type. */
    record Case(HeadArchitecture arch, int n, NormType norm, PositionalEncoding position, DataType dataType) {
        String name() {
            return arch.name().toLowerCase() + "-n" + n + "-" + (norm == NormType.LAYER_NORM ? "ln" : "rms") + "-"
                    + (position == PositionalEncoding.LEARNED ? "learned" : "rope") + "-" + dataType.name().toLowerCase();
        }
    }

    /**
     * The cases (n = 1, 2, 4 × parallel and sequential) in double and single precision, plus linear heads,
     * RMSNorm and rotary positions. Every case runs through the model's one implementation (the heads one at a
     * time, the paper's memory-efficient order).
     */
    static List<Case> cases() {
        List<Case> cases = new ArrayList<>();
        for (DataType dt : List.of(DataType.DOUBLE, DataType.FLOAT)) {
            for (HeadArchitecture arch : List.of(HeadArchitecture.PARALLEL, HeadArchitecture.SEQUENTIAL)) {
                for (int n : new int[]{1, 2, 4}) {
                    cases.add(new Case(arch, n, NormType.LAYER_NORM, PositionalEncoding.LEARNED, dt));
                }
            }
        }
        cases.add(new Case(HeadArchitecture.LINEAR, 2, NormType.LAYER_NORM, PositionalEncoding.LEARNED, DataType.DOUBLE));
        cases.add(new Case(HeadArchitecture.PARALLEL, 4, NormType.RMS_NORM, PositionalEncoding.LEARNED, DataType.DOUBLE));
        cases.add(new Case(HeadArchitecture.SEQUENTIAL, 4, NormType.RMS_NORM, PositionalEncoding.ROPE, DataType.DOUBLE));
        return cases;
    }

    static MtpModelConfig config(Case c) {
        double[] weights = new double[c.n()];
        for (int k = 0; k < c.n(); k++) {
            weights[k] = 1.0 / (k + 1) + 0.25 * k;             // non-uniform, so a dropped weight shows
        }
        // initStd 0.2 rather than 0.02: logits far from uniform, so the loss comparison is sensitive.
        return MtpModelConfig.builder().vocabSize(65).contextLength(16).modelWidth(32).attentionHeads(4)
                .trunkDepth(2).mlpWidth(128).predictedTokens(c.n()).headArchitecture(c.arch()).lossWeights(weights)
                .normType(c.norm()).positionalEncoding(c.position()).dropout(0).initStd(0.2).seed(4242 + c.n()).build();
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: ReferenceParityDump <outdir>");
            System.exit(2);
        }
        Path out = Path.of(args[0]).toAbsolutePath();
        List<Map<String, Object>> results = new ArrayList<>();
        for (Case c : cases()) {
            results.add(Bench.offMainThread(() -> dump(c, out)));
        }
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("date", Instant.now().toString());
        json.put("batch", BATCH);
        json.put("gradient", "sum over the batch of sum_k w_k CE_k (DL4J's gradient before the updater divides by the batch size)");
        json.put("score", "DL4J's score: (1/B) sum_b sum_k w_k CE_k(b), CE_k(b) the mean over T positions");
        json.put("cases", results);
        Bench.writeJson(out.resolve("cases.json"), json);
        System.out.println("wrote " + results.size() + " parity cases to " + out);
    }

    static Map<String, Object> dump(Case c, Path out) throws Exception {
        // Double cases: every array ND4J creates internally is double too, as in GradientCheckTest.
        Nd4j.setDefaultDataTypes(c.dataType(), c.dataType());
        MtpModelConfig config = config(c);
        MtpModel model = MtpModel.create(config, new NoOp(), c.dataType());
        ComputationGraph graph = model.graph();
        int[][] windows = new int[BATCH][config.windowLength()];
        Random random = new Random(99 + c.n());
        for (int[] w : windows) {
            for (int i = 0; i < w.length; i++) {
                w[i] = random.nextInt(config.vocabSize());
            }
        }
        MultiDataSet batch = MtpBatches.fromWindows(windows, config, c.dataType());
        INDArray features = batch.getFeatures(0);
        INDArray labels = batch.getLabels(0);

        String name = c.name();
        NpzExport.writeParameters(graph, out.resolve(name + ".weights.npz"));
        Map<String, INDArray> batchArrays = new LinkedHashMap<>();
        batchArrays.put("features", features.castTo(DataType.INT64));
        batchArrays.put("labels", labels.castTo(DataType.INT64));
        NpzExport.write(out.resolve(name + ".batch.npz"), batchArrays);

        HorizonStats stats = HorizonStats.fromLogits(model.logits(features), labels);
        double[] horizonLoss = new double[config.predictedTokens()];
        for (int k = 1; k <= horizonLoss.length; k++) {
            horizonLoss[k - 1] = stats.loss(k);
        }

        graph.setInputs(features);
        graph.setLabels(labels);
        graph.computeGradientAndScore();
        double score = graph.score();
        Map<String, INDArray> gradients = new LinkedHashMap<>();
        Map<String, Double> norms = new LinkedHashMap<>();
        for (String param : graph.paramTable().keySet()) {
            INDArray g = graph.gradient().gradientForVariable().get(param);
            if (g == null) {
                throw new IllegalStateException("no gradient for parameter " + param + " in case " + name);
            }
            gradients.put(param, g.dup('c'));
            norms.put(param, g.castTo(DataType.DOUBLE).norm2Number().doubleValue());
        }
        NpzExport.write(out.resolve(name + ".gradients.npz"), gradients);

        Map<String, Object> cfg = new LinkedHashMap<>();
        cfg.put("vocabSize", config.vocabSize());
        cfg.put("contextLength", config.contextLength());
        cfg.put("modelWidth", config.modelWidth());
        cfg.put("attentionHeads", config.attentionHeads());
        cfg.put("trunkDepth", config.trunkDepth());
        cfg.put("mlpWidth", config.mlpWidth());
        cfg.put("predictedTokens", config.predictedTokens());
        cfg.put("headArchitecture", config.headArchitecture().name());
        cfg.put("lossWeights", config.lossWeights());
        cfg.put("normType", config.normType().name());
        cfg.put("positionalEncoding", config.positionalEncoding().name());
        cfg.put("normEpsilon", config.normEpsilon());
        cfg.put("initStd", config.initStd());
        cfg.put("seed", config.seed());

        Map<String, Object> r = new LinkedHashMap<>();
        r.put("name", name);
        r.put("dataType", c.dataType().name());
        r.put("config", cfg);
        r.put("parameters", model.parameterCounts().total());
        r.put("weights", name + ".weights.npz");
        r.put("batch", name + ".batch.npz");
        r.put("gradients", name + ".gradients.npz");
        r.put("horizonLoss", horizonLoss);
        r.put("score", score);
        r.put("gradientNorms", norms);
        log.info("{}: score {}, per-horizon loss {}", name, score, java.util.Arrays.toString(horizonLoss));
        return r;
    }
}

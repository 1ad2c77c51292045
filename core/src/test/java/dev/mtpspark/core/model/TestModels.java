package dev.mtpspark.core.model;

import dev.mtpspark.core.config.HeadArchitecture;
import dev.mtpspark.core.config.MtpModelConfig;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.dataset.api.MultiDataSet;
import org.nd4j.linalg.learning.config.NoOp;

import java.util.Random;

/** Tiny configurations and random batches shared by the model tests. */
final class TestModels {
    private TestModels() {
    }

    static MtpModelConfig.Builder tiny(HeadArchitecture arch, int n) {
        return MtpModelConfig.builder().vocabSize(7).contextLength(5).modelWidth(8).attentionHeads(2)
                .trunkDepth(1).mlpWidth(12).predictedTokens(n).headArchitecture(arch).initStd(0.3).seed(42);
    }

    /**
     * Adds N(0, 0.2²) noise to every parameter, so that biases and norm parameters are not their initial 0 and 1
     * (a bias that is never added would go unseen with zero biases).
     */
    static MtpModel perturbed(MtpModel model, long seed) {
        org.nd4j.linalg.api.ndarray.INDArray p = model.graph().params();
        org.nd4j.linalg.factory.Nd4j.getRandom().setSeed(seed);
        p.addi(org.nd4j.linalg.factory.Nd4j.randn(p.dataType(), p.shape()).muli(0.2));
        return model;
    }

    static double[] nonUniformWeights(int n) {
        double[] w = new double[n];
        for (int k = 0; k < n; k++) {
            w[k] = 1.0 / (k + 1) + 0.25 * k;
        }
        return w;
    }

    static MtpModel doubleModel(MtpModelConfig config) {
        return MtpModel.create(config, new NoOp(), DataType.DOUBLE);
    }

    static int[][] randomWindows(MtpModelConfig config, int batch, long seed) {
        Random r = new Random(seed);
        int[][] w = new int[batch][config.windowLength()];
        for (int[] row : w) {
            for (int i = 0; i < row.length; i++) {
                row[i] = r.nextInt(config.vocabSize());
            }
        }
        return w;
    }

    static MultiDataSet randomBatch(MtpModelConfig config, int batch, long seed, DataType dt) {
        return MtpBatches.fromWindows(randomWindows(config, batch, seed), config, dt);
    }

    /** One training-mode gradient computation on {@code batch}: a copy of every parameter's gradient, by name. */
    static java.util.Map<String, org.nd4j.linalg.api.ndarray.INDArray> gradients(org.deeplearning4j.nn.graph.ComputationGraph graph,
                                                                              MultiDataSet batch) {
        graph.setInputs(batch.getFeatures());
        graph.setLabels(batch.getLabels());
        graph.computeGradientAndScore();
        java.util.Map<String, org.nd4j.linalg.api.ndarray.INDArray> copy = new java.util.TreeMap<>();
        graph.gradient().gradientForVariable().forEach((k, v) -> copy.put(k, v.dup()));
        return copy;
    }

    /**
     * Asserts that {@code actual} has every gradient of {@code expected} to within {@code relative} of its L2 norm,
     * and that no gradient is zero (except the position table's, which a batch may not reach).
     */
    static void assertSameGradients(java.util.Map<String, org.nd4j.linalg.api.ndarray.INDArray> expected,
                                    java.util.Map<String, org.nd4j.linalg.api.ndarray.INDArray> actual, double relative) {
        org.junit.jupiter.api.Assertions.assertEquals(expected.keySet(), actual.keySet());
        for (String name : expected.keySet()) {
            org.nd4j.linalg.api.ndarray.INDArray e = expected.get(name);
            double scale = e.norm2Number().doubleValue();
            double difference = e.sub(actual.get(name)).norm2Number().doubleValue();
            org.junit.jupiter.api.Assertions.assertTrue(difference <= relative * scale + 1e-15,
                    name + ": |Δ| = " + difference + ", |g| = " + scale);
            org.junit.jupiter.api.Assertions.assertTrue(scale > 0 || name.endsWith(ParameterLayout.POSITION_TABLE),
                    name + " has a zero gradient");
        }
    }
}

package dev.mtpspark.core.model;

import dev.mtpspark.core.config.HeadArchitecture;
import dev.mtpspark.core.config.MtpModelConfig;
import dev.mtpspark.core.config.NormType;
import dev.mtpspark.core.config.PositionalEncoding;
import dev.mtpspark.core.stats.HorizonStats;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.api.MultiDataSet;
import org.nd4j.linalg.learning.config.Adam;

import java.io.File;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/** Behaviour of the model against independent computations. */
class MtpModelTest {

    @ParameterizedTest
    @EnumSource(HeadArchitecture.class)
    void weightedLossEqualsPlainJavaCrossEntropyOfTheLogits(HeadArchitecture arch) {
        int n = 3;
        double[] w = TestModels.nonUniformWeights(n);
        MtpModelConfig config = TestModels.tiny(arch, n).lossWeights(w).build();
        MtpModel model = TestModels.doubleModel(config);
        MultiDataSet batch = TestModels.randomBatch(config, 3, 11, DataType.DOUBLE);

        double[][][][] logits = toArray(model.logits(batch.getFeatures(0)));
        double[][][] labels = toArray3(batch.getLabels(0));
        double expected = 0;
        double[] perHorizon = new double[n];
        for (int b = 0; b < logits.length; b++) {
            for (int k = 0; k < n; k++) {
                double ce = 0;
                for (int t = 0; t < config.contextLength(); t++) {
                    ce += ReferenceTransformer.crossEntropy(logits[b][k][t], (int) labels[b][k][t]);
                }
                perHorizon[k] += ce;
                expected += w[k] * ce / config.contextLength();
            }
        }
        expected /= logits.length;
        assertEquals(expected, model.score(batch), 1e-6);

        HorizonStats stats = model.evaluate(batch);
        for (int k = 1; k <= n; k++) {
            assertEquals(perHorizon[k - 1] / (logits.length * config.contextLength()), stats.loss(k), 1e-9);
            assertEquals(logits.length * config.contextLength(), stats.tokens(k));
        }
        assertEquals(expected, stats.weightedLoss(w), 1e-6);
    }

    @ParameterizedTest
    @EnumSource(value = NormType.class)
    void logitsMatchAnIndependentPlainJavaTransformer(NormType norm) {
        for (PositionalEncoding pe : PositionalEncoding.values()) {
            MtpModelConfig config = TestModels.tiny(HeadArchitecture.PARALLEL, 2).trunkDepth(2)
                    .normType(norm).positionalEncoding(pe).build();
            MtpModel model = TestModels.doubleModel(config);
            int[][] windows = TestModels.randomWindows(config, 2, 5);
            double[][][][] logits = toArray(model.logits(MtpBatches.features(windows, config, DataType.DOUBLE)));
            ReferenceTransformer reference = new ReferenceTransformer(model);
            for (int b = 0; b < windows.length; b++) {
                double[][][] expected = reference.logits(windows[b]);
                for (int k = 0; k < 2; k++) {
                    for (int t = 0; t < config.contextLength(); t++) {
                        assertArrayEquals(expected[k][t], logits[b][k][t], 1e-9, norm + "/" + pe + " b" + b + " h" + (k + 1) + " t" + t);
                    }
                }
            }
        }
    }

    @Test
    void nEqualsOneIsTheOrdinaryNextTokenLanguageModel() {
        MtpModelConfig config = TestModels.tiny(HeadArchitecture.PARALLEL, 1).build();
        MtpModel model = TestModels.doubleModel(config);
        int[][] windows = TestModels.randomWindows(config, 4, 3);
        ReferenceTransformer reference = new ReferenceTransformer(model);
        double nll = 0;
        for (int[] x : windows) {
            double[][] logits = reference.logits(x)[0];
            for (int t = 0; t < config.contextLength(); t++) {
                nll += ReferenceTransformer.crossEntropy(logits[t], x[t + 1]);     // next token
            }
        }
        double expected = nll / (windows.length * config.contextLength());
        assertEquals(expected, model.score(MtpBatches.fromWindows(windows, config, DataType.DOUBLE)), 1e-9);
    }

    @ParameterizedTest
    @EnumSource(HeadArchitecture.class)
    void changingTokenJNeverChangesEarlierPredictions(HeadArchitecture arch) {
        MtpModelConfig config = TestModels.tiny(arch, 3).contextLength(8).positionalEncoding(PositionalEncoding.ROPE).build();
        MtpModel model = TestModels.doubleModel(config);
        int[] window = TestModels.randomWindows(config, 1, 9)[0];
        double[][][][] base = toArray(model.logits(MtpBatches.features(new int[][] {window}, config, DataType.DOUBLE)));
        for (int j = 0; j < config.contextLength() + config.predictedTokens() - 1; j++) {
            int[] changed = window.clone();
            changed[j] = (changed[j] + 1) % config.vocabSize();
            double[][][][] out = toArray(model.logits(MtpBatches.features(new int[][] {changed}, config, DataType.DOUBLE)));
            boolean anyChange = false;
            for (int k = 1; k <= config.predictedTokens(); k++) {
                // Sequential depth k reads x[t+k−1] (teacher forcing), so it may depend on x[j] from t = j−k+1.
                int firstDependent = arch == HeadArchitecture.SEQUENTIAL ? j - k + 1 : j;
                for (int t = 0; t < config.contextLength(); t++) {
                    if (t < firstDependent) {
                        assertArrayEquals(base[0][k - 1][t], out[0][k - 1][t], 0.0,
                                "head " + k + " at position " + t + " changed when token " + j + " changed");
                    } else if (!java.util.Arrays.equals(base[0][k - 1][t], out[0][k - 1][t])) {
                        anyChange = true;
                    }
                }
            }
            if (j < config.contextLength()) {
                assertTrue(anyChange, "token " + j + " influences nothing: the check would be vacuous");
            }
        }
    }

    @Test
    void lossWeightsChangeWithoutRebuildingTheModel() {
        MtpModelConfig config = TestModels.tiny(HeadArchitecture.PARALLEL, 3).build();
        MtpModel model = TestModels.doubleModel(config);
        MultiDataSet batch = TestModels.randomBatch(config, 2, 1, DataType.DOUBLE);
        HorizonStats stats = model.evaluate(batch);
        assertEquals(stats.weightedLoss(new double[] {1, 1, 1}), model.score(batch), 1e-9);

        var graphBefore = model.graph();
        double[] schedule = HorizonWeightSchedule.extraHorizons(3, 0.3, 0.1, 100).weightsAt(150);
        assertArrayEquals(new double[] {1, 0.1, 0.1}, schedule, 0);
        model.setLossWeights(schedule);
        assertSame(graphBefore, model.graph());
        assertEquals(stats.weightedLoss(schedule), model.score(batch), 1e-9);
        // The configuration that DL4J serialises (and Spark broadcasts) carries the new weights too.
        var roundTrip = org.deeplearning4j.nn.conf.ComputationGraphConfiguration.fromJson(model.graph().getConfiguration().toJson());
        var headConf = (MtpNetworkLayer) ((org.deeplearning4j.nn.conf.graph.LayerVertex) roundTrip.getVertices().get(MtpModel.NETWORK))
                .getLayerConf().getLayer();
        assertArrayEquals(schedule, headConf.getLossWeights(), 0);
    }

    @Test
    void saveRestoreGivesIdenticalOutputsAndContinuedTraining(@TempDir File dir) throws Exception {
        MtpModelConfig config = TestModels.tiny(HeadArchitecture.SEQUENTIAL, 2).lossWeights(1, 0.5).build();
        MtpModel model = MtpModel.create(config, new Adam(1e-2), DataType.FLOAT);
        MultiDataSet batch = TestModels.randomBatch(config, 4, 2, DataType.FLOAT);
        for (int i = 0; i < 3; i++) {
            model.fit(batch);
        }
        model.setLossWeights(new double[] {1, 0.25});
        File file = new File(dir, "model.zip");
        model.save(file);
        MtpModel restored = MtpModel.load(file);

        assertEquals(config, restored.config());
        assertArrayEquals(new double[] {1, 0.25}, restored.lossWeights(), 0);
        assertEquals(model.logits(batch.getFeatures(0)), restored.logits(batch.getFeatures(0)));
        assertEquals(model.graph().getUpdater().getStateViewArray(), restored.graph().getUpdater().getStateViewArray());

        MultiDataSet next = TestModels.randomBatch(config, 4, 3, DataType.FLOAT);
        model.fit(next);
        restored.fit(next);
        assertEquals(model.graph().params(), restored.graph().params());
    }

    @Test
    void tinyModelLearnsADeterministicSequenceOnEveryHorizon() {
        int vocab = 12;
        MtpModelConfig config = MtpModelConfig.builder().vocabSize(vocab).contextLength(8).modelWidth(32)
                .attentionHeads(2).trunkDepth(1).predictedTokens(3).seed(3).build();
        MtpModel model = MtpModel.create(config, new Adam(1e-2), DataType.FLOAT);
        // A fixed permutation cycle: x[t+k] is a function of x[t] for every k.
        int[] next = {5, 9, 0, 11, 2, 7, 1, 3, 10, 4, 6, 8};
        Random random = new Random(0);
        int steps = 0;
        HorizonStats stats = null;
        while (steps < 400) {
            model.fit(cycleBatch(next, config, 16, random));
            steps++;
            if (steps % 25 == 0) {
                stats = model.evaluate(cycleBatch(next, config, 16, new Random(99)));
                if (minAccuracy(stats) >= 0.99) {
                    break;
                }
            }
        }
        assertNotNull(stats);
        assertTrue(minAccuracy(stats) >= 0.99, "after " + steps + " steps: " + stats);
    }

    @Test
    void parameterCountsPerPartMatchTheArchitecture() {
        MtpModelConfig config = TestModels.tiny(HeadArchitecture.PARALLEL, 4).build();
        MtpModel model = TestModels.doubleModel(config);
        long d = 8;
        long m = 12;
        long block = 2 * 2 * d + (d * 3 * d + 3 * d) + (d * d + d) + (d * m + m) + (m * d + d);
        ParameterCounts counts = model.parameterCounts();
        assertEquals(7 * d + 5 * d, counts.embedding());
        assertEquals(block, counts.trunk());
        assertEquals(4 * block, counts.heads());
        assertEquals(2 * d + d * 7, counts.unembedding());
        assertEquals(model.graph().numParams(), counts.total());
    }

    @Test
    void dropoutIsAppliedInTrainingOnlyAndTrainingStillConverges() {
        MtpModelConfig config = TestModels.tiny(HeadArchitecture.PARALLEL, 2).dropout(0.3).build();
        MtpModel model = MtpModel.create(config, new Adam(1e-2), DataType.DOUBLE);
        MultiDataSet batch = TestModels.randomBatch(config, 4, 8, DataType.DOUBLE);
        assertEquals(model.logits(batch.getFeatures(0)), model.logits(batch.getFeatures(0)), "inference must be deterministic");
        double inference = model.score(batch);
        double training = model.graph().score(batch, true);
        assertNotEquals(inference, training, 1e-9, "dropout had no effect in training mode");
        double before = inference;
        for (int i = 0; i < 60; i++) {
            model.fit(batch);
        }
        assertTrue(model.score(batch) < before * 0.7, "loss did not fall with dropout: " + before + " -> " + model.score(batch));
    }

    private static MultiDataSet cycleBatch(int[] next, MtpModelConfig config, int batch, Random random) {
        int[][] windows = new int[batch][config.windowLength()];
        for (int[] w : windows) {
            w[0] = random.nextInt(next.length);
            for (int i = 1; i < w.length; i++) {
                w[i] = next[w[i - 1]];
            }
        }
        return MtpBatches.fromWindows(windows, config, DataType.FLOAT);
    }

    private static double minAccuracy(HorizonStats stats) {
        double min = 1;
        for (int k = 1; k <= stats.horizons(); k++) {
            min = Math.min(min, stats.accuracy(k));
        }
        return min;
    }

    static double[][][][] toArray(INDArray a) {
        double[][][][] r = new double[(int) a.size(0)][(int) a.size(1)][(int) a.size(2)][];
        for (int b = 0; b < r.length; b++) {
            for (int k = 0; k < r[b].length; k++) {
                for (int t = 0; t < r[b][k].length; t++) {
                    r[b][k][t] = a.get(org.nd4j.linalg.indexing.NDArrayIndex.point(b), org.nd4j.linalg.indexing.NDArrayIndex.point(k),
                            org.nd4j.linalg.indexing.NDArrayIndex.point(t), org.nd4j.linalg.indexing.NDArrayIndex.all())
                            .castTo(DataType.DOUBLE).toDoubleVector();
                }
            }
        }
        return r;
    }

    static double[][][] toArray3(INDArray a) {
        double[][][] r = new double[(int) a.size(0)][][];
        for (int b = 0; b < r.length; b++) {
            r[b] = a.get(org.nd4j.linalg.indexing.NDArrayIndex.point(b)).castTo(DataType.DOUBLE).toDoubleMatrix();
        }
        return r;
    }
}

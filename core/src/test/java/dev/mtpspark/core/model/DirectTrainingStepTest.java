package dev.mtpspark.core.model;

import dev.mtpspark.core.config.HeadArchitecture;
import dev.mtpspark.core.config.MtpModelConfig;
import dev.mtpspark.core.config.NormType;
import dev.mtpspark.core.config.PositionalEncoding;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.api.MultiDataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Sgd;

import java.util.Map;
import java.util.function.Supplier;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The hand-written training step ({@link DirectTrainingStep}) against the SameDiff graph of the same network, an
 * independent computation of the same function: loss and every parameter's gradient, in double precision.
 */
class DirectTrainingStepTest {

    static Stream<Arguments> cases() {
        return Stream.of(
                Arguments.of(NormType.LAYER_NORM, 1, 1, 0.0, 1, 3),
                Arguments.of(NormType.LAYER_NORM, 4, 2, 0.0, 1, 3),
                Arguments.of(NormType.RMS_NORM, 2, 1, 0.0, 2, 4),
                Arguments.of(NormType.LAYER_NORM, 3, 2, 0.2, 2, 5),       // dropout, uneven shards
                Arguments.of(NormType.RMS_NORM, 2, 0, 0.1, 1, 2),          // no trunk blocks (parameter-matched n = 4 shape)
                Arguments.of(NormType.LAYER_NORM, 2, 3, 0.0, 3, 3));       // one window per shard
    }

    @ParameterizedTest(name = "{0} n={1} trunk={2} dropout={3} shards={4} batch={5}")
    @MethodSource("cases")
    void directStepGivesTheSameDiffLossAndGradients(NormType norm, int n, int trunk, double dropout, int shards, int batch) {
        MtpModelConfig config = TestModels.tiny(HeadArchitecture.PARALLEL, n).trunkDepth(trunk).normType(norm)
                .lossWeights(TestModels.nonUniformWeights(n)).dropout(dropout).stepThreads(shards).build();
        MtpModel model = TestModels.doubleModel(config);
        assertTrue(DirectTrainingStep.supports(model.headLayer(), DataType.DOUBLE, true));
        MultiDataSet data = TestModels.randomBatch(config, batch, 5, DataType.DOUBLE);

        Nd4j.getRandom().setSeed(7);                            // the same dropout masks for both
        Map<String, INDArray> expected = withSameDiff(() -> TestModels.gradients(model.graph(), data));
        double expectedScore = model.graph().score();
        Nd4j.getRandom().setSeed(7);
        Map<String, INDArray> actual = TestModels.gradients(model.graph(), data);
        assertEquals(expectedScore, model.graph().score(), 1e-12 * Math.abs(expectedScore), "training score");
        TestModels.assertSameGradients(expected, actual, 1e-11);
    }

    @Test
    void floatTrainingFollowsTheSameDiffTrajectory() {
        MtpModelConfig config = TestModels.tiny(HeadArchitecture.PARALLEL, 2).trunkDepth(2).stepThreads(2).build();
        MtpModel direct = MtpModel.create(config, new Sgd(0.1), DataType.FLOAT);
        MtpModel reference = MtpModel.create(config, new Sgd(0.1), DataType.FLOAT);
        for (int step = 0; step < 5; step++) {
            MultiDataSet data = TestModels.randomBatch(config, 4, 100 + step, DataType.FLOAT);
            direct.fit(data);
            withSameDiff(() -> {
                reference.fit(data);
                return null;
            });
        }
        INDArray a = direct.graph().params();
        INDArray b = reference.graph().params();
        double relative = a.sub(b).norm2Number().doubleValue() / b.norm2Number().doubleValue();
        assertTrue(relative < 1e-5, "parameters after 5 SGD steps differ by " + relative + " (relative)");
        MultiDataSet held = TestModels.randomBatch(config, 3, 999, DataType.FLOAT);
        assertEquals(reference.score(held), direct.score(held), 1e-4);
    }

    @Test
    void parametersAndGradientsInOtherLayoutsAreCopiedInAndOut() {
        MtpModelConfig config = TestModels.tiny(HeadArchitecture.PARALLEL, 2).build();
        MtpModel model = TestModels.doubleModel(config);
        MultiDataSet data = TestModels.randomBatch(config, 3, 8, DataType.DOUBLE);
        Map<String, INDArray> params = model.graph().getLayer(MtpModel.NETWORK).paramTable();
        INDArray rows = new TokenEmbedding(data.getFeatures(0), config.vocabSize())
                .rows(params.get(MtpNetworkLayer.TOKEN_TABLE), params.get(MtpNetworkLayer.POSITION_TABLE));
        Map<String, INDArray> columnMajorParams = new java.util.LinkedHashMap<>();
        Map<String, INDArray> rowMajorGradients = new java.util.LinkedHashMap<>();
        Map<String, INDArray> columnMajorGradients = new java.util.LinkedHashMap<>();
        params.forEach((name, array) -> {
            columnMajorParams.put(name, array.dup('f'));
            rowMajorGradients.put(name, Nd4j.createUninitialized(DataType.DOUBLE, array.shape()));
            columnMajorGradients.put(name, Nd4j.createUninitialized(DataType.DOUBLE, array.shape(), 'f').assign(Double.NaN));
        });
        assertNull(DenseMatrix.viewOf(columnMajorParams.get(MtpNetworkLayer.UNEMBEDDING)), "the layout this test is about");

        INDArray[] rowGradients = new INDArray[2];
        double expected = new DirectTrainingStep(model.headLayer(), DataType.DOUBLE)
                .run(params, rows, Map.of(), data.getLabels(0), rowMajorGradients, g -> rowGradients[0] = g.dup());
        double actual = new DirectTrainingStep(model.headLayer(), DataType.DOUBLE)
                .run(columnMajorParams, rows, Map.of(), data.getLabels(0), columnMajorGradients, g -> rowGradients[1] = g.dup());
        assertEquals(expected, actual, 1e-12 * Math.abs(expected));
        assertEquals(rowGradients[0], rowGradients[1]);
        for (String name : rowMajorGradients.keySet()) {
            if (!MtpNetworkLayer.isEmbeddingTable(name)) {                // the layer writes those from the row gradient
                assertTrue(rowMajorGradients.get(name).equalsWithEps(columnMajorGradients.get(name), 1e-12), name);
            }
        }
    }

    @Test
    void otherArchitecturesAndTheSwitchFallBackToSameDiff() {
        MtpModel parallel = TestModels.doubleModel(TestModels.tiny(HeadArchitecture.PARALLEL, 2).build());
        assertTrue(DirectTrainingStep.supports(parallel.headLayer(), DataType.FLOAT, true));
        assertFalse(DirectTrainingStep.supports(parallel.headLayer(), DataType.FLOAT, false), "GPU backend");
        assertFalse(DirectTrainingStep.supports(parallel.headLayer(), DataType.HALF, true));
        withSameDiff(() -> {
            assertFalse(DirectTrainingStep.supports(parallel.headLayer(), DataType.FLOAT, true), "-Dmtp.step.kernel=samediff");
            return null;
        });
        MtpModel sequential = TestModels.doubleModel(TestModels.tiny(HeadArchitecture.SEQUENTIAL, 2).build());
        assertFalse(DirectTrainingStep.supports(sequential.headLayer(), DataType.FLOAT, true));
        MtpModel rotary = TestModels.doubleModel(TestModels.tiny(HeadArchitecture.PARALLEL, 2)
                .positionalEncoding(PositionalEncoding.ROPE).build());
        assertFalse(DirectTrainingStep.supports(rotary.headLayer(), DataType.FLOAT, true));
    }

    private static <T> T withSameDiff(Supplier<T> body) {
        System.setProperty(MtpModel.STEP_KERNEL_PROPERTY, "samediff");
        try {
            return body.get();
        } finally {
            System.clearProperty(MtpModel.STEP_KERNEL_PROPERTY);
        }
    }
}

package dev.mtpspark.core.model;

import dev.mtpspark.core.config.HeadArchitecture;
import dev.mtpspark.core.config.HeadOrder;
import dev.mtpspark.core.config.MtpModelConfig;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.api.MultiDataSet;
import org.nd4j.linalg.learning.config.Adam;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The paper's per-head order gives the all-at-once path's losses and gradients, for every head architecture. These
 * are the two SameDiff implementations, so the tests turn {@link DirectTrainingStep} off: it would train the
 * parallel-head cases in both orders (it processes the heads one at a time either way).
 */
class HeadOrderTest {

    @BeforeAll
    static void sameDiffSteps() {
        System.setProperty(MtpModel.STEP_KERNEL_PROPERTY, "samediff");
    }

    @AfterAll
    static void defaultSteps() {
        System.clearProperty(MtpModel.STEP_KERNEL_PROPERTY);
    }

    static Stream<Arguments> cases() {
        return Stream.of(
                Arguments.of(HeadArchitecture.PARALLEL, 1), Arguments.of(HeadArchitecture.PARALLEL, 2),
                Arguments.of(HeadArchitecture.PARALLEL, 4), Arguments.of(HeadArchitecture.SEQUENTIAL, 2),
                Arguments.of(HeadArchitecture.SEQUENTIAL, 4), Arguments.of(HeadArchitecture.LINEAR, 3));
    }

    @ParameterizedTest(name = "{0} n={1}")
    @MethodSource("cases")
    void perHeadOrderGivesTheSameLossAndGradientsAsAllAtOnce(HeadArchitecture arch, int n) {
        MtpModelConfig base = TestModels.tiny(arch, n).lossWeights(TestModels.nonUniformWeights(n)).build();
        MtpModel allAtOnce = TestModels.doubleModel(base);
        MtpModel perHead = TestModels.doubleModel(base.toBuilder().headOrder(HeadOrder.PER_HEAD).build());
        assertEquals(allAtOnce.graph().params(), perHead.graph().params(), "same seed, same initial parameters");
        MultiDataSet batch = TestModels.randomBatch(base, 3, 7, DataType.DOUBLE);

        Map<String, INDArray> expected = TestModels.gradients(allAtOnce.graph(), batch);
        Map<String, INDArray> actual = TestModels.gradients(perHead.graph(), batch);
        double allAtOnceTrainingScore = allAtOnce.graph().score();
        double perHeadTrainingScore = perHead.graph().score();
        assertEquals(allAtOnceTrainingScore, perHeadTrainingScore, 1e-12, "training score");
        assertEquals(expected.keySet(), actual.keySet());
        for (String name : expected.keySet()) {
            INDArray e = expected.get(name);
            INDArray a = actual.get(name);
            double scale = Math.max(1e-12, e.norm2Number().doubleValue());
            double difference = e.sub(a).norm2Number().doubleValue();
            assertTrue(difference <= 1e-10 * scale + 1e-14, name + ": |Δ| = " + difference + ", |g| = " + scale);
            assertTrue(a.norm2Number().doubleValue() > 0 || name.startsWith("mtp_" + MtpNetworkLayer.POSITION_TABLE), name + " has a zero gradient");
        }
        assertEquals(allAtOnce.score(batch), perHead.score(batch), 1e-12, "inference score");
        // The training score is the loss the backward pass computed; it must equal a separate forward pass.
        assertEquals(allAtOnce.score(batch), allAtOnceTrainingScore, 1e-12, "all-at-once training score vs forward pass");
        assertEquals(perHead.score(batch), perHeadTrainingScore, 1e-12, "per-head training score vs forward pass");
        assertEquals(allAtOnce.logits(batch.getFeatures(0)), perHead.logits(batch.getFeatures(0)));
    }

    @Test
    void trainingStepsFollowTheSameTrajectoryAndLossWeightChangesReachTheHeadGraphs() {
        MtpModelConfig base = TestModels.tiny(HeadArchitecture.PARALLEL, 3).build();
        MtpModel allAtOnce = MtpModel.create(base, new Adam(1e-2), DataType.DOUBLE);
        MtpModel perHead = MtpModel.create(base.toBuilder().headOrder(HeadOrder.PER_HEAD).build(), new Adam(1e-2), DataType.DOUBLE);
        for (int step = 0; step < 4; step++) {
            if (step == 2) {
                allAtOnce.setLossWeights(new double[] {1, 0.5, 0});
                perHead.setLossWeights(new double[] {1, 0.5, 0});
            }
            MultiDataSet batch = TestModels.randomBatch(base, 2, 100 + step, DataType.DOUBLE);
            allAtOnce.fit(batch);
            perHead.fit(batch);
            assertEquals(allAtOnce.graph().score(), perHead.graph().score(), 1e-10, "step " + step);
        }
        double difference = allAtOnce.graph().params().sub(perHead.graph().params()).norm2Number().doubleValue();
        assertTrue(difference < 1e-9, "parameters differ by " + difference);
    }

    @Test
    void theHeadOrderSurvivesSaveAndLoad() throws IOException {
        MtpModelConfig config = TestModels.tiny(HeadArchitecture.PARALLEL, 2).headOrder(HeadOrder.PER_HEAD).build();
        MtpModel model = TestModels.doubleModel(config);
        File file = Files.createTempFile("mtp-head-order", ".zip").toFile();
        try {
            model.save(file);
            MtpModel loaded = MtpModel.load(file);
            assertEquals(HeadOrder.PER_HEAD, loaded.config().headOrder());
            assertEquals(HeadOrder.PER_HEAD, loaded.headLayer().getHeadOrder());
            assertInstanceOf(PerHeadOutputLayer.class, loaded.graph().getLayer(MtpModel.NETWORK));
        } finally {
            Files.deleteIfExists(file.toPath());
        }
    }

    @Test
    void switchingTheOrderKeepsParametersUpdaterStateAndIterationCount() {
        MtpModelConfig base = TestModels.tiny(HeadArchitecture.PARALLEL, 2).build();
        MtpModel allAtOnce = MtpModel.create(base, new Adam(1e-2), DataType.DOUBLE);
        MtpModel twin = MtpModel.create(base, new Adam(1e-2), DataType.DOUBLE);
        for (int step = 0; step < 2; step++) {
            MultiDataSet batch = TestModels.randomBatch(base, 2, 200 + step, DataType.DOUBLE);
            allAtOnce.fit(batch);
            twin.fit(batch);
        }
        MtpModel perHead = twin.withHeadOrder(HeadOrder.PER_HEAD);
        assertInstanceOf(PerHeadOutputLayer.class, perHead.graph().getLayer(MtpModel.NETWORK));
        assertEquals(HeadOrder.PER_HEAD, perHead.config().headOrder());
        assertEquals(2, perHead.graph().getConfiguration().getIterationCount());
        MultiDataSet next = TestModels.randomBatch(base, 2, 300, DataType.DOUBLE);
        allAtOnce.fit(next);
        perHead.fit(next);
        double difference = allAtOnce.graph().params().sub(perHead.graph().params()).norm2Number().doubleValue();
        assertTrue(difference < 1e-9, "the switched model continues the same trajectory; differs by " + difference);
        assertSame(allAtOnce, allAtOnce.withHeadOrder(HeadOrder.ALL_AT_ONCE));
    }
}

package dev.mtpspark.core.model;

import dev.mtpspark.core.config.HeadArchitecture;
import dev.mtpspark.core.config.MtpModelConfig;
import dev.mtpspark.core.config.NormType;
import dev.mtpspark.core.config.PositionalEncoding;
import org.deeplearning4j.gradientcheck.GradientCheckUtil;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.dataset.api.MultiDataSet;
import org.nd4j.linalg.factory.Nd4j;

import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Finite-difference gradient checks in double precision of every parameter of the embedding, a trunk block
 * and the head layer, for each head architecture, n = 1, 2, 4 and non-uniform loss weights.
 */
class GradientCheckTest {

    @BeforeAll
    static void doublePrecision() {
        Nd4j.setDefaultDataTypes(DataType.DOUBLE, DataType.DOUBLE);
    }

    static Stream<Arguments> variants() {
        return Stream.of(
                Arguments.of(HeadArchitecture.PARALLEL, 1, NormType.LAYER_NORM, PositionalEncoding.LEARNED),
                Arguments.of(HeadArchitecture.PARALLEL, 2, NormType.LAYER_NORM, PositionalEncoding.LEARNED),
                Arguments.of(HeadArchitecture.PARALLEL, 3, NormType.RMS_NORM, PositionalEncoding.LEARNED),   // direct step with RMSNorm
                Arguments.of(HeadArchitecture.PARALLEL, 4, NormType.RMS_NORM, PositionalEncoding.ROPE),
                Arguments.of(HeadArchitecture.SEQUENTIAL, 1, NormType.RMS_NORM, PositionalEncoding.LEARNED),
                Arguments.of(HeadArchitecture.SEQUENTIAL, 2, NormType.LAYER_NORM, PositionalEncoding.LEARNED),
                Arguments.of(HeadArchitecture.SEQUENTIAL, 4, NormType.RMS_NORM, PositionalEncoding.ROPE),
                Arguments.of(HeadArchitecture.LINEAR, 2, NormType.LAYER_NORM, PositionalEncoding.LEARNED));
    }

    @ParameterizedTest(name = "{0} n={1} {2} {3}")
    @MethodSource("variants")
    void gradientsMatchFiniteDifferences(HeadArchitecture arch, int n, NormType norm, PositionalEncoding pe) {
        MtpModelConfig config = TestModels.tiny(arch, n).normType(norm).positionalEncoding(pe)
                .lossWeights(TestModels.nonUniformWeights(n)).build();
        MtpModel model = TestModels.doubleModel(config);
        MultiDataSet batch = TestModels.randomBatch(config, 2, 7, DataType.DOUBLE);

        boolean ok = GradientCheckUtil.checkGradients(new GradientCheckUtil.GraphConfig()
                .net(model.graph())
                .inputs(batch.getFeatures())
                .labels(batch.getLabels())
                .epsilon(1e-6)
                .maxRelError(1e-5)
                .minAbsoluteError(1e-8)
                .print(GradientCheckUtil.PrintMode.FAILURES_ONLY)
                .exitOnFirstError(false));
        assertTrue(ok, "gradient check failed for " + config);
    }
}

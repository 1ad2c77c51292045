package dev.mtpspark.core.model;

import dev.mtpspark.core.config.HeadArchitecture;
import dev.mtpspark.core.config.InvalidConfigException;
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
import org.nd4j.linalg.learning.config.Adam;

import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/** A step split over batch shards (threads) computes the unsharded step's loss and gradients. */
class BatchShardsTest {

    static Stream<Arguments> cases() {
        return Stream.of(
                Arguments.of(HeadArchitecture.PARALLEL, 2, 2, 4, 0.0),
                Arguments.of(HeadArchitecture.PARALLEL, 3, 3, 5, 0.2),      // uneven shards: 1, 2 and 2 windows
                Arguments.of(HeadArchitecture.SEQUENTIAL, 3, 2, 3, 0.1),
                Arguments.of(HeadArchitecture.SEQUENTIAL, 3, 3, 5, 0.0),
                Arguments.of(HeadArchitecture.LINEAR, 2, 4, 4, 0.0));
    }

    @ParameterizedTest(name = "{0} n={1} shards={2} batch={3} dropout={4}")
    @MethodSource("cases")
    void shardedStepGivesTheUnshardedLossAndGradients(HeadArchitecture arch, int n, int shards, int batch, double dropout) {
        MtpModelConfig base = TestModels.tiny(arch, n).lossWeights(TestModels.nonUniformWeights(n)).dropout(dropout)
                .normType(arch == HeadArchitecture.SEQUENTIAL ? NormType.RMS_NORM : NormType.LAYER_NORM)
                .positionalEncoding(arch == HeadArchitecture.SEQUENTIAL ? PositionalEncoding.ROPE : PositionalEncoding.LEARNED)
                .stepThreads(1).build();
        MtpModel single = TestModels.doubleModel(base);
        MtpModel sharded = TestModels.doubleModel(base.toBuilder().stepThreads(shards).build());
        assertEquals(shards, sharded.headLayer().shardsFor(batch, true));
        MultiDataSet data = TestModels.randomBatch(base, batch, 11, DataType.DOUBLE);

        Nd4j.getRandom().setSeed(99);                          // the same dropout masks for both
        Map<String, INDArray> expected = TestModels.gradients(single.graph(), data);
        double expectedScore = single.graph().score();
        Nd4j.getRandom().setSeed(99);
        Map<String, INDArray> actual = TestModels.gradients(sharded.graph(), data);
        assertEquals(expectedScore, sharded.graph().score(), 1e-12 * Math.abs(expectedScore), "training score");
        TestModels.assertSameGradients(expected, actual, 1e-11);
        if (dropout == 0) {
            assertEquals(single.score(data), sharded.graph().score(), 1e-12, "training score vs a separate forward pass");
        }
    }

    @Test
    void shardedTrainingFollowsTheSameTrajectoryAndRepeatedStepsReuseTheWorkers() {
        MtpModelConfig base = TestModels.tiny(HeadArchitecture.PARALLEL, 2).stepThreads(1).build();
        MtpModel single = MtpModel.create(base, new Adam(1e-2), DataType.DOUBLE);
        MtpModel sharded = MtpModel.create(base, new Adam(1e-2), DataType.DOUBLE).withStepThreads(2);
        assertEquals(2, sharded.config().stepThreads());
        for (int step = 0; step < 4; step++) {
            if (step == 2) {                                   // loss-weight changes reach the workers too
                single.setLossWeights(new double[] {1, 0.25});
                sharded.setLossWeights(new double[] {1, 0.25});
            }
            MultiDataSet batch = TestModels.randomBatch(base, 4, 500 + step, DataType.DOUBLE);
            single.fit(batch);
            sharded.fit(batch);
            assertEquals(single.graph().score(), sharded.graph().score(), 1e-10, "step " + step);
        }
        double difference = single.graph().params().sub(sharded.graph().params()).norm2Number().doubleValue();
        assertTrue(difference < 1e-9, "parameters differ by " + difference);
        // The last batch has fewer windows than shards: the step falls back to as many shards as windows.
        MultiDataSet one = TestModels.randomBatch(base, 1, 900, DataType.DOUBLE);
        single.fit(one);
        sharded.fit(one);
        assertEquals(single.graph().score(), sharded.graph().score(), 1e-10, "one-window batch");
    }

    @Test
    void aModelTrainsOnBatchesOfDifferentSizes() {
        // The network resizes its activation buffers when the batch size changes.
        for (HeadArchitecture arch : HeadArchitecture.values()) {
            MtpModelConfig config = TestModels.tiny(arch, 3).stepThreads(1).build();
            MtpModel model = MtpModel.create(config, new Adam(1e-2), DataType.DOUBLE);
            for (int batch : new int[] {4, 1, 3}) {
                model.fit(TestModels.randomBatch(config, batch, 700 + batch, DataType.DOUBLE));
                assertTrue(Double.isFinite(model.graph().score()), arch + " batch " + batch);
            }
        }
    }

    @Test
    void automaticThreadsAreTheCoresOnCpuAndOneShardOnAGpu() {
        MtpNetworkLayer auto = TestModels.doubleModel(TestModels.tiny(HeadArchitecture.PARALLEL, 1).build()).headLayer();
        assertEquals(0, auto.getStepThreads(), "0 (automatic) is the default");
        int cores = Runtime.getRuntime().availableProcessors();
        assertEquals(cores, auto.threadBudget(true));
        assertEquals(1, auto.threadBudget(false), "one thread (the device's stream) on a GPU backend");
        assertEquals(Math.min(cores, 64), auto.shardsFor(64, true));
        assertEquals(1, auto.shardsFor(1, true), "never more shards than windows");
        assertEquals(1, auto.shardsFor(64, false), "one shard on a GPU backend");
        InvalidConfigException e = assertThrows(InvalidConfigException.class,
                () -> TestModels.tiny(HeadArchitecture.PARALLEL, 1).stepThreads(-1).build());
        assertTrue(e.getMessage().contains("stepThreads"), e.getMessage());
    }
}

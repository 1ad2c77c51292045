package dev.mtpspark.core.train;

import dev.mtpspark.core.config.MtpModelConfig;
import dev.mtpspark.core.model.MtpModel;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.layers.samediff.AbstractSameDiffLayer;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.learning.config.Adam;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

class WarmupCosineScheduleTest {
    @Test
    void followsNanoGptWarmupAndCosine() {
        WarmupCosineSchedule s = new WarmupCosineSchedule(1e-3, 1e-4, 100, 2000);
        assertEquals(1e-3 * 1 / 101, s.valueAt(0, 0), 1e-15);
        assertEquals(1e-3 * 100 / 101, s.valueAt(99, 0), 1e-15);
        assertEquals(1e-3, s.valueAt(100, 0), 1e-15);
        assertEquals(1e-4 + 0.5 * (1e-3 - 1e-4), s.valueAt(1050, 0), 1e-12);   // half way: cos(π/2) = 0
        assertEquals(1e-4, s.valueAt(2000, 0), 1e-15);
        assertEquals(1e-4, s.valueAt(5000, 0), 1e-15);
        assertThrows(IllegalArgumentException.class, () -> new WarmupCosineSchedule(1e-3, 1e-2, 0, 10));
    }

    @Test
    void optimizerSurvivesTheJsonRoundTripSparkShipsToExecutors() {
        MtpModelConfig config = MtpModelConfig.builder().vocabSize(11).contextLength(4).modelWidth(8).attentionHeads(2)
                .trunkDepth(1).mlpWidth(16).predictedTokens(2).build();
        OptimizerSettings opt = new OptimizerSettings(2e-3, 2e-4, 10, 100, 0.9, 0.95, 1e-8, 0.1, GradientClipping.L2_PER_LAYER, 0.5);
        ComputationGraphConfiguration conf = MtpModel.graphConfiguration(config, opt, DataType.FLOAT);
        ComputationGraphConfiguration back = ComputationGraphConfiguration.fromJson(conf.toJson());
        back.getVertices().forEach((name, v) -> {
            if (v instanceof org.deeplearning4j.nn.conf.graph.LayerVertex lv
                    && lv.getLayerConf().getLayer() instanceof AbstractSameDiffLayer layer) {
                Adam adam = assertInstanceOf(Adam.class, layer.getUpdater(), name);
                assertEquals(opt.schedule(), adam.getLearningRateSchedule(), name);
                assertEquals(0.95, adam.getBeta2(), name);
                assertEquals(GradientClipping.L2_PER_LAYER.dl4j(), layer.getGradientNormalization(), name);
                assertEquals(0.5, layer.getGradientNormalizationThreshold(), name);
                assertEquals(1, layer.getRegularization().size(), name + " has decoupled weight decay");
            }
        });
    }
}

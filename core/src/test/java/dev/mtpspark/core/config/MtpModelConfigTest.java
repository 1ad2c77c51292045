package dev.mtpspark.core.config;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import static org.junit.jupiter.api.Assertions.*;

class MtpModelConfigTest {

    private static void rejects(String key, String messagePart, Executable build) {
        InvalidConfigException e = assertThrows(InvalidConfigException.class, build);
        assertEquals(key, e.key());
        assertTrue(e.getMessage().startsWith(key + " = "), e.getMessage());
        assertTrue(e.getMessage().contains(messagePart), e.getMessage());
    }

    @Test
    void defaultsAreTheNanoGptCharacterRecipeWithFourHeads() {
        MtpModelConfig c = MtpModelConfig.builder().build();
        assertEquals(4, c.trunkDepth());
        assertEquals(128, c.modelWidth());
        assertEquals(64, c.contextLength());
        assertEquals(512, c.mlpWidth());
        assertArrayEquals(new double[] {1, 1, 1, 1}, c.lossWeights(), 0);
        assertEquals(68, c.windowLength());
    }

    @Test
    void eachInvalidValueNamesItsKeyAndTheValidRange() {
        rejects("modelWidth", "divisible by attentionHeads (3)", () -> MtpModelConfig.builder().modelWidth(128).attentionHeads(3).build());
        rejects("predictedTokens", "must be in [1, 64]", () -> MtpModelConfig.builder().predictedTokens(0).build());
        rejects("lossWeights", "has 2 entries but predictedTokens = 4", () -> MtpModelConfig.builder().lossWeights(1, 1).build());
        rejects("lossWeights", "weight of horizon 2 is -0.5", () -> MtpModelConfig.builder().predictedTokens(2).lossWeights(1, -0.5).build());
        rejects("lossWeights", "all weights are zero", () -> MtpModelConfig.builder().predictedTokens(2).lossWeights(0, 0).build());
        rejects("lossWeights", "finite", () -> MtpModelConfig.builder().predictedTokens(1).lossWeights(Double.NaN).build());
        rejects("vocabSize", "must be ≥ 2", () -> MtpModelConfig.builder().vocabSize(1).build());
        rejects("contextLength", "must be ≥ 1", () -> MtpModelConfig.builder().contextLength(0).build());
        rejects("attentionHeads", "must be ≥ 1", () -> MtpModelConfig.builder().attentionHeads(0).build());
        rejects("trunkDepth", "must be ≥ 0", () -> MtpModelConfig.builder().trunkDepth(-1).build());
        rejects("mlpWidth", "must be ≥ 1", () -> MtpModelConfig.builder().mlpWidth(0).build());
        rejects("dropout", "[0, 1)", () -> MtpModelConfig.builder().dropout(1.0).build());
        rejects("normEpsilon", "> 0", () -> MtpModelConfig.builder().normEpsilon(0).build());
        rejects("initStd", "> 0", () -> MtpModelConfig.builder().initStd(-1).build());
        rejects("attentionHeads", "must be even", () -> MtpModelConfig.builder().modelWidth(12).attentionHeads(4)
                .positionalEncoding(PositionalEncoding.ROPE).build());
        rejects("lossWeightGamma", "(0, 1]", () -> MtpModelConfig.builder().lossWeightScheme(LossWeightScheme.GEOMETRIC, 1.5));
    }

    @Test
    void weightSchemesResolveForN() {
        assertArrayEquals(new double[] {1, 0.5, 0.25}, MtpModelConfig.builder().predictedTokens(3)
                .lossWeightScheme(LossWeightScheme.GEOMETRIC, 0.5).build().lossWeights(), 1e-15);
        assertArrayEquals(new double[] {1, 0.5, 1.0 / 3}, MtpModelConfig.builder().predictedTokens(3)
                .lossWeightScheme(LossWeightScheme.HARMONIC, 0).build().lossWeights(), 1e-15);
        assertArrayEquals(new double[] {1, 1}, MtpModelConfig.builder().predictedTokens(2)
                .lossWeightScheme(LossWeightScheme.UNIFORM, 0).build().lossWeights(), 0);
    }

    @Test
    void weightsCannotBeChangedThroughTheAccessor() {
        MtpModelConfig c = MtpModelConfig.builder().predictedTokens(2).lossWeights(1, 2).build();
        c.lossWeights()[0] = 42;
        assertArrayEquals(new double[] {1, 2}, c.lossWeights(), 0);
    }
}

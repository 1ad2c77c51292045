package dev.mtpspark.core.generate;

import dev.mtpspark.core.config.HeadArchitecture;
import dev.mtpspark.core.config.MtpModelConfig;
import dev.mtpspark.core.config.PositionalEncoding;
import dev.mtpspark.core.model.Decoder;
import dev.mtpspark.core.model.MtpModel;
import org.apache.commons.math3.distribution.ChiSquaredDistribution;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.learning.config.NoOp;

import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Self-speculative decoding: greedy output equals plain greedy decoding token for token (every k, prompts longer
 * than the context, the re-prefills, the stop id), whatever the drafts are; sampling has plain sampling's
 * distribution (chi-square) and each head's acceptance count its expectation.
 */
class SpeculativeSamplerTest {
    private static final int N = 4;

    private static MtpModel model(HeadArchitecture arch, PositionalEncoding pe) {
        return model(arch, pe, 12);
    }

    private static MtpModel model(HeadArchitecture arch, PositionalEncoding pe, int context) {
        MtpModelConfig config = MtpModelConfig.builder().vocabSize(7).contextLength(context).modelWidth(16).attentionHeads(2)
                .trunkDepth(2).mlpWidth(32).predictedTokens(N).headArchitecture(arch).positionalEncoding(pe)
                .initStd(0.5).seed(11).build();
        return perturbed(MtpModel.create(config, new NoOp(), DataType.FLOAT));
    }

    /** Every parameter off its initial value (biases not 0, gains not 1), as after training. */
    private static MtpModel perturbed(MtpModel model) {
        org.nd4j.linalg.api.ndarray.INDArray p = model.graph().params();
        org.nd4j.linalg.factory.Nd4j.getRandom().setSeed(9);
        p.addi(org.nd4j.linalg.factory.Nd4j.randn(p.dataType(), p.shape()).muli(0.2));
        return model;
    }

    private static int[] randomPrompt(Random r, int vocab) {
        int[] p = new int[1 + r.nextInt(16)];                  // up to 16 > T = 12: cut to the newest T
        for (int i = 0; i < p.length; i++) {
            p[i] = r.nextInt(vocab);
        }
        return p;
    }

    @ParameterizedTest
    @EnumSource(HeadArchitecture.class)
    void greedyOutputEqualsPlainGreedyForEveryKAndPrompt(HeadArchitecture arch) {
        for (PositionalEncoding pe : PositionalEncoding.values()) {
            MtpModel model = model(arch, pe);
            TextSampler plain = new TextSampler(model);
            Random r = new Random(5);
            long accepted = 0;
            for (int prompt = 0; prompt < 12; prompt++) {
                int[] p = randomPrompt(r, 7);
                int max = 10 + r.nextInt(40);                    // 40 tokens cross two re-prefills of T/2
                int[] expected = plain.generate(p, max, 0, 0, null);
                int stop = expected[expected.length / 2];        // a stop id that occurs in the output
                int[] expectedStopped = plain.generate(p, max, 0, 0, null, stop);
                assertEquals(stop, expectedStopped[expectedStopped.length - 1]);
                for (int k = 2; k <= N; k++) {
                    SpeculativeSampler.Result result = new SpeculativeSampler(model, k).generate(p, max, 0, 0, null, -1);
                    assertArrayEquals(expected, result.tokens(), arch + " " + pe + " k=" + k + " prompt " + Arrays.toString(p));
                    assertEquals(max, result.stats().tokens());
                    assertTrue(result.stats().forwards() <= max);
                    accepted += result.stats().accepted()[2];
                    SpeculativeSampler.Result stopped = new SpeculativeSampler(model, k).generate(p, max, 0, 0, null, stop);
                    assertArrayEquals(expectedStopped, stopped.tokens(), "stop id " + stop + ", k=" + k);
                }
            }
            // Random linear heads rarely agree with head 1; the oracle test below covers their accepting rounds.
            assertTrue(arch == HeadArchitecture.LINEAR || accepted > 0, "some drafts were accepted, so multi-token rounds were exercised: " + accepted);
        }
    }

    @ParameterizedTest
    @EnumSource(HeadArchitecture.class)
    void randomDraftsStillGiveTheGreedyOutputAndOracleDraftsAreAllAccepted(HeadArchitecture arch) {
        MtpModel model = model(arch, PositionalEncoding.LEARNED, 48);      // no re-prefill: blocks are not clipped
        int[] prompt = {1, 2, 3};
        int max = 45;
        int[] expected = new TextSampler(model).generate(prompt, max, 0, 0, null);
        int[] all = new int[prompt.length + max];
        System.arraycopy(prompt, 0, all, 0, prompt.length);
        System.arraycopy(expected, 0, all, prompt.length, max);
        for (int k = 2; k <= N; k++) {
            Random garbage = new Random(k);
            SpeculativeSampler.Result random = new SpeculativeSampler(model, k)
                    .withDraftOverride((history, length, drafts) -> {
                        for (int i = 0; i < drafts.length; i++) {
                            drafts[i] = garbage.nextInt(7);
                        }
                        return drafts;
                    }).generate(prompt, max, 0, 0, null, -1);
            assertArrayEquals(expected, random.tokens(), "random drafts, k=" + k);

            SpeculativeSampler.Result oracle = new SpeculativeSampler(model, k)
                    .withDraftOverride((history, length, drafts) -> Arrays.copyOfRange(all, length, length + drafts.length))
                    .generate(prompt, max, 0, 0, null, -1);
            assertArrayEquals(expected, oracle.tokens(), "oracle drafts, k=" + k);
            SpeculativeSampler.Stats s = oracle.stats();
            for (int j = 2; j <= k; j++) {
                assertTrue(s.proposed()[j] > 0);
                assertEquals(s.proposed()[j], s.accepted()[j], "head " + j + " accepts every oracle draft");
            }
            // Accepting everything: k tokens a pass after the prefill's one, the last block clipped to what is left.
            assertEquals(1 + (max - 1 + k - 1) / k, s.forwards(), "passes at k=" + k);
            assertTrue(s.tokensPerForward() > 0.75 * k, "tokens per forward " + s.tokensPerForward() + " at k=" + k);
        }
    }

    /**
     * Four tokens after a fixed prompt on a vocabulary of 4 (the prefill's token, then one round of g and two
     * drafts): the frequencies of the 256 sequences from speculative sampling against the exact distribution of
     * plain sampling (softmax at temperature 1.3, top-3), a chi-square test at
     * significance 0.001 with a fixed seed; and each head's acceptances against the sum of their probabilities.
     */
    @ParameterizedTest
    @EnumSource(value = HeadArchitecture.class, names = {"PARALLEL", "SEQUENTIAL"})
    void samplingHasTheDistributionOfPlainSampling(HeadArchitecture arch) {
        MtpModelConfig config = MtpModelConfig.builder().vocabSize(4).contextLength(8).modelWidth(16).attentionHeads(2)
                .trunkDepth(1).mlpWidth(32).predictedTokens(3).headArchitecture(arch).initStd(0.6).seed(3).build();
        MtpModel model = perturbed(MtpModel.create(config, new NoOp(), DataType.FLOAT));
        int[] prompt = {3, 1};
        double temperature = 1.3;
        int topK = 3;
        int v = 4;
        int horizon = 4;
        int cellCount = v * v * v * v;
        double[] exact = new double[cellCount];
        Decoder d = model.decoder(1);
        for (int cell = 0; cell < cellCount; cell++) {
            int[] x = digits(cell, v, horizon);
            int[] context = Arrays.copyOf(prompt, prompt.length + horizon);
            double probability = 1;
            for (int i = 0; i < horizon; i++) {
                double[] p = Warp.distribution(d.prefill(Arrays.copyOf(context, prompt.length + i)), temperature, topK);
                probability *= p[x[i]];
                context[prompt.length + i] = x[i];
            }
            exact[cell] = probability;
        }
        int samples = 20_000;
        long[] counts = new long[cellCount];
        Random random = new Random(2024);
        SpeculativeSampler sampler = new SpeculativeSampler(model, 3);
        long[] accepted = new long[4];
        double[] expectedAccepted = new double[4];
        for (int i = 0; i < samples; i++) {
            SpeculativeSampler.Result r = sampler.generate(prompt, horizon, temperature, topK, random, -1);
            int cell = 0;
            for (int t : r.tokens()) {
                cell = cell * v + t;
            }
            counts[cell]++;
            for (int j = 2; j <= 3; j++) {
                accepted[j] += r.stats().accepted()[j];
                expectedAccepted[j] += r.stats().expectedAccepted()[j];
            }
        }
        // Pool the cells expected below 5 into one, as the test requires.
        double statistic = 0;
        double pooledExpected = 0;
        long pooledCount = 0;
        int cells = 0;
        for (int i = 0; i < exact.length; i++) {
            double e = exact[i] * samples;
            if (e < 5) {
                pooledExpected += e;
                pooledCount += counts[i];
            } else {
                statistic += (counts[i] - e) * (counts[i] - e) / e;
                cells++;
            }
        }
        if (pooledExpected > 0) {
            statistic += (pooledCount - pooledExpected) * (pooledCount - pooledExpected) / Math.max(pooledExpected, 1e-9);
            cells++;
        }
        double critical = new ChiSquaredDistribution(cells - 1).inverseCumulativeProbability(0.999);
        assertTrue(statistic < critical, arch + ": chi-square " + statistic + " ≥ " + critical + " (" + (cells - 1) + " df)");
        for (int j = 2; j <= 3; j++) {
            double sd = Math.sqrt(expectedAccepted[j]);
            assertTrue(expectedAccepted[j] > 100, "head " + j + " is checked and accepted often enough to test");
            assertTrue(Math.abs(accepted[j] - expectedAccepted[j]) < 4 * sd,
                    "head " + j + ": accepted " + accepted[j] + " against an expected " + expectedAccepted[j]);
        }
    }

    private static int[] digits(int cell, int base, int count) {
        int[] x = new int[count];
        for (int i = count - 1; i >= 0; i--) {
            x[i] = cell % base;
            cell /= base;
        }
        return x;
    }

    @Test
    void badArgumentsAreNamed() {
        MtpModel model = model(HeadArchitecture.PARALLEL, PositionalEncoding.LEARNED);
        IllegalArgumentException k = assertThrows(IllegalArgumentException.class, () -> new SpeculativeSampler(model, 5));
        assertTrue(k.getMessage().contains("[2, 4]"), k.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new SpeculativeSampler(model, 1));
        assertThrows(IllegalArgumentException.class,
                () -> new SpeculativeSampler(model, 2).generate(new int[0], 5, 0, 0, null, -1));
        assertThrows(IllegalStateException.class, () -> new SpeculativeSampler(model, 2)
                .withDraftOverride((h, l, drafts) -> drafts).generate(new int[] {1}, 5, 0.5, 0, new Random(1), -1));
    }
}

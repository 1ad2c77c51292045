package dev.mtpspark.core.model;

import dev.mtpspark.core.config.HeadArchitecture;
import dev.mtpspark.core.config.MtpModelConfig;
import dev.mtpspark.core.config.NormType;
import dev.mtpspark.core.config.PositionalEncoding;
import dev.mtpspark.core.generate.TextSampler;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.NoOp;

import java.util.Arrays;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The KV-cached decoder computes what a full forward pass over the cached tokens computes: at every step of a
 * generation, after a truncation and re-extension by several tokens in one pass, and across the T/2 re-prefill,
 * for every variant (every head for parallel and linear heads, head 1 for sequential ones).
 */
class DecoderTest {
    static Stream<Arguments> variants() {
        return Stream.of(
                Arguments.of(HeadArchitecture.PARALLEL, 3, 2, NormType.LAYER_NORM, PositionalEncoding.LEARNED, DataType.DOUBLE),
                Arguments.of(HeadArchitecture.PARALLEL, 2, 1, NormType.RMS_NORM, PositionalEncoding.ROPE, DataType.DOUBLE),
                Arguments.of(HeadArchitecture.PARALLEL, 4, 1, NormType.LAYER_NORM, PositionalEncoding.LEARNED, DataType.FLOAT),
                Arguments.of(HeadArchitecture.SEQUENTIAL, 3, 2, NormType.RMS_NORM, PositionalEncoding.ROPE, DataType.DOUBLE),
                Arguments.of(HeadArchitecture.SEQUENTIAL, 2, 1, NormType.LAYER_NORM, PositionalEncoding.LEARNED, DataType.FLOAT),
                Arguments.of(HeadArchitecture.LINEAR, 3, 1, NormType.LAYER_NORM, PositionalEncoding.ROPE, DataType.DOUBLE),
                Arguments.of(HeadArchitecture.PARALLEL, 2, 0, NormType.LAYER_NORM, PositionalEncoding.LEARNED, DataType.DOUBLE));
    }

    @ParameterizedTest(name = "{0} n={1} trunk={2} {3} {4} {5}")
    @MethodSource("variants")
    void cachedLogitsEqualAFullForwardPassAtEveryStep(HeadArchitecture arch, int n, int depth, NormType norm,
                                                      PositionalEncoding pe, DataType type) {
        MtpModelConfig config = TestModels.tiny(arch, n).trunkDepth(depth).normType(norm).positionalEncoding(pe)
                .contextLength(8).build();
        MtpModel model = TestModels.perturbed(MtpModel.create(config, new NoOp(), type), 17);
        Decoder decoder = model.decoder(n);
        double tolerance = type == DataType.DOUBLE ? 1e-10 : 2e-5;
        int t = config.contextLength();
        Random random = new Random(41);
        int[] tokens = new int[40];
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = random.nextInt(config.vocabSize());
        }
        // Prefill 3, then one token at a time to the full context: every step against the full forward pass.
        float[][] rows = decoder.appendAll(Arrays.copyOf(tokens, 3));
        for (int r = 0; r < 3; r++) {
            assertArrayEquals(full(model, Arrays.copyOf(tokens, 3), r, 1), rows[r], (float) tolerance, "head 1 at " + r);
        }
        assertDrafts(model, decoder, tokens, tolerance);
        for (int length = 4; length <= t; length++) {
            float[][] last = decoder.appendAll(tokens[length - 1]);
            assertArrayEquals(full(model, Arrays.copyOf(tokens, length), length - 1, 1), last[0], (float) tolerance);
            assertEquals(length, decoder.length());
            if (length % 2 == 0 || length == t) {
                assertDrafts(model, decoder, tokens, tolerance);          // the heads catch up over 1 or 2 positions
            }
        }
        // Truncate (as rejected drafts are) and re-extend by three positions in one pass.
        decoder.truncate(t - 4);
        int[] extended = tokens.clone();
        extended[t - 4] = 5;
        extended[t - 3] = 1;
        extended[t - 2] = 2;
        float[][] three = decoder.appendAll(5, 1, 2);
        for (int r = 0; r < 3; r++) {
            assertArrayEquals(full(model, Arrays.copyOf(extended, t - 1), t - 4 + r, 1), three[r], (float) tolerance);
        }
        assertDrafts(model, decoder, extended, tolerance);
        assertThrows(IllegalStateException.class, () -> decoder.append(1, 2), "beyond the context length");
        // The re-prefill of the newest T/2 tokens, then one more step: positions restart at 0.
        int[] kept = Arrays.copyOfRange(tokens, 20, 20 + t / 2);
        float[] prefilled = decoder.prefill(kept);
        assertArrayEquals(full(model, kept, t / 2 - 1, 1), prefilled, (float) tolerance);
        assertDrafts(model, decoder, Arrays.copyOfRange(tokens, 20, 40), tolerance);
        int[] next = Arrays.copyOf(kept, kept.length + 1);
        next[kept.length] = tokens[20 + kept.length];
        assertArrayEquals(full(model, next, kept.length, 1), decoder.append(next[kept.length]), (float) tolerance);
        assertDrafts(model, decoder, Arrays.copyOfRange(tokens, 20, 40), tolerance);
    }

    /**
     * Heads 2..n drafted at the last cached position m, each given the true tokens x[m+1..] of {@code tokens} as
     * its look-ahead (sequential heads read them), against the full forward pass over those tokens.
     */
    private static void assertDrafts(MtpModel model, Decoder decoder, int[] tokens, double tolerance) {
        int n = decoder.heads();
        if (n < 2) {
            return;
        }
        int m = decoder.length() - 1;
        float[][] drafted = new float[n + 1][];
        decoder.draft(tokens[m + 1], n, (head, logits) -> {
            drafted[head] = logits;
            return tokens[m + head];
        });
        for (int k = 2; k <= n; k++) {
            assertArrayEquals(full(model, Arrays.copyOf(tokens, m + k), m, k), drafted[k], (float) tolerance, "head " + k + " drafting at position " + m);
        }
    }

    @Test
    void greedySamplingEqualsPlainGreedyDecodingWithTheSameContextPolicy() {
        for (HeadArchitecture arch : HeadArchitecture.values()) {
            MtpModelConfig config = TestModels.tiny(arch, 2).contextLength(6).initStd(0.8).build();
            MtpModel model = TestModels.perturbed(MtpModel.create(config, new NoOp(), DataType.FLOAT), 3);
            int[] prompt = {3, 1, 4, 1, 5, 2, 6, 0};                       // longer than T: cut to its newest T
            int[] generated = new TextSampler(model).generate(prompt, 25, 0, 0, new Random(1));
            // Plain greedy decoding: a full forward pass over the window at every step.
            int t = config.contextLength();
            int[] history = Arrays.copyOf(prompt, prompt.length + 25);
            int length = prompt.length;
            int windowStart = length - t;
            for (int i = 0; i < 25; i++) {
                int[] window = Arrays.copyOfRange(history, windowStart, length);
                float[] logits = full(model, window, window.length - 1, 1);
                int best = 0;
                for (int v = 1; v < logits.length; v++) {
                    if (logits[v] > logits[best]) {
                        best = v;
                    }
                }
                history[length++] = best;
                if (length - windowStart > t) {
                    windowStart = length - Math.max(1, t / 2);             // the T/2 re-prefill
                }
            }
            assertArrayEquals(Arrays.copyOfRange(history, prompt.length, length), generated, arch.toString());
        }
    }

    @Test
    void badInputNamesWhatIsWrong() {
        MtpModel model = MtpModel.create(TestModels.tiny(HeadArchitecture.PARALLEL, 2).build(), new NoOp(), DataType.FLOAT);
        Decoder decoder = model.decoder(1);
        IllegalArgumentException id = assertThrows(IllegalArgumentException.class, () -> decoder.prefill(new int[] {1, 99}));
        assertTrue(id.getMessage().contains("99"), id.getMessage());
        assertThrows(IllegalArgumentException.class, () -> model.decoder(3), "more heads than the model has");
        assertThrows(IllegalStateException.class, () -> model.decoder(2).draft(1, 2, (h, l) -> 0), "nothing cached");
        decoder.prefill(new int[] {1, 2});
        assertThrows(IllegalArgumentException.class, () -> decoder.draft(1, 2, (h, l) -> 0), "a head-1-only decoder");
        assertThrows(IllegalArgumentException.class, () -> decoder.truncate(4), "longer than what is cached");
    }

    /** Head k's logits at {@code position} of a full forward pass over {@code tokens}, right-padded to T. */
    static float[] full(MtpModel model, int[] tokens, int position, int k) {
        MtpModelConfig c = model.config();
        double[][][] features = new double[1][c.inputChannels()][c.contextLength()];
        for (int ch = 0; ch < c.inputChannels(); ch++) {
            for (int p = 0; p < c.contextLength() && p + ch < tokens.length; p++) {
                features[0][ch][p] = tokens[p + ch];
            }
        }
        INDArray logits = model.logits(Nd4j.create(features).castTo(model.graph().params().dataType()));
        return logits.slice(0).slice(k - 1).slice(position).toFloatVector();
    }
}

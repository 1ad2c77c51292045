package dev.mtpspark.core.generate;

import dev.mtpspark.core.config.HeadArchitecture;
import dev.mtpspark.core.config.MtpModelConfig;
import dev.mtpspark.core.model.Decoder;
import dev.mtpspark.core.model.MtpModel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.NoOp;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The acceptance measured by teacher-forcing the greedy continuation equals an independent count through the
 * KV-cached decoder's own drafts at every position (double precision, so no near-tie can differ), and the expected
 * tokens per forward follows from it.
 */
class DraftAcceptanceTest {
    private static MtpModel model(HeadArchitecture arch) {
        MtpModelConfig config = MtpModelConfig.builder().vocabSize(5).contextLength(10).modelWidth(16).attentionHeads(2)
                .trunkDepth(1).mlpWidth(32).predictedTokens(3).headArchitecture(arch).initStd(0.5).seed(21).build();
        MtpModel model = MtpModel.create(config, new NoOp(), DataType.DOUBLE);
        INDArray p = model.graph().params();
        Nd4j.getRandom().setSeed(4);
        p.addi(Nd4j.randn(p.dataType(), p.shape()).muli(0.2));
        return model;
    }

    @ParameterizedTest
    @EnumSource(HeadArchitecture.class)
    void equalsTheDecodersOwnDraftsAtEveryPosition(HeadArchitecture arch) {
        MtpModel model = model(arch);
        int t = 10;
        int promptLength = 3;
        Random r = new Random(8);
        List<int[]> windows = new ArrayList<>();
        for (int i = 0; i < 7; i++) {
            int[] w = new int[t + 3];
            for (int j = 0; j < w.length; j++) {
                w[j] = r.nextInt(5);
            }
            windows.add(w);
        }
        DraftAcceptance.Result result = DraftAcceptance.measure(model, windows, promptLength, 3);

        long[] positions = new long[4];
        long[] agreed = new long[4];
        long[] checked = new long[4];
        long[] accepted = new long[4];
        Decoder decoder = model.decoder(3);
        for (int[] w : windows) {
            int[] prompt = Arrays.copyOf(w, promptLength);
            int[] s = Arrays.copyOf(prompt, t);
            System.arraycopy(new TextSampler(model).generate(prompt, t - promptLength, 0, 0, null), 0, s, promptLength, t - promptLength);
            for (int p = promptLength - 1; p < t - 2; p++) {
                decoder.prefill(Arrays.copyOf(s, p + 1));
                int last = p;
                boolean[] chain = {true};
                decoder.draft(s[p + 1], 3, (head, logits) -> {
                    if (last + head < t) {
                        boolean agrees = Warp.argmax(logits) == s[last + head];
                        positions[head]++;
                        agreed[head] += agrees ? 1 : 0;
                        if (chain[0]) {
                            checked[head]++;
                            accepted[head] += agrees ? 1 : 0;
                            chain[0] = agrees;
                        }
                    }
                    return s[Math.min(t - 1, last + head)];            // teacher-forced: the greedy token
                });
            }
        }
        assertEquals(7, result.prompts());
        assertArrayEquals(positions, result.positions(), "positions");
        assertArrayEquals(agreed, result.agreed(), "agreement");
        assertArrayEquals(checked, result.checked(), "chain checks");
        assertArrayEquals(accepted, result.accepted(), "chain acceptances");
        double a2 = (double) accepted[2] / checked[2];
        double a3 = (double) accepted[3] / checked[3];
        assertEquals(1 + a2, result.expectedTokensPerForward(2), 1e-12);
        assertEquals(1 + a2 + a2 * a3, result.expectedTokensPerForward(3), 1e-12);
    }

    @Test
    void badPromptLengthIsNamed() {
        MtpModel model = model(HeadArchitecture.PARALLEL);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> DraftAcceptance.measure(model, List.of(new int[12]), 10, 4));
        assertEquals("the prompt length must be in [1, 9], got 10", e.getMessage());
    }
}

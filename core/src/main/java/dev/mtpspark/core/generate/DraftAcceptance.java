package dev.mtpspark.core.generate;

import dev.mtpspark.core.model.MtpModel;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.Arrays;
import java.util.List;

/**
 * How often the extra heads would be accepted in greedy self-speculative decoding, measured on the model's own
 * greedy continuations (what drafts are verified against, unlike teacher-forced accuracy on data): each prompt is
 * continued greedily to fill the context, the continuation is teacher-forced once through every head, and at each
 * position the chain of drafts is replayed: head j counts only where heads 2..j−1 agreed. With α_j the rate head j
 * is accepted in that chain, the expected tokens per forward pass with k heads is {@code 1 + Σ_{j≤k} Π_{i≤j} α_i}.
 */
public final class DraftAcceptance {
    /**
     * {@code agreed[j] / positions[j]}: head j's agreement with the greedy continuation at every position where its
     * target exists; {@code accepted[j] / checked[j]}: its acceptance in the chain (index j = head, 2..n).
     */
    public record Result(int prompts, long[] positions, long[] agreed, long[] checked, long[] accepted) {
        public int heads() {
            return positions.length - 1;
        }

        public double agreement(int head) {
            return positions[head] == 0 ? Double.NaN : (double) agreed[head] / positions[head];
        }

        /** α_j, the rate head j's draft is accepted when every earlier draft of its round was. */
        public double acceptance(int head) {
            return checked[head] == 0 ? Double.NaN : (double) accepted[head] / checked[head];
        }

        /** The expected tokens per forward pass drafting with heads 2..k. */
        public double expectedTokensPerForward(int k) {
            double expected = 1;
            double chain = 1;
            for (int j = 2; j <= k; j++) {
                double a = acceptance(j);
                chain *= Double.isNaN(a) ? 0 : a;
                expected += chain;
            }
            return expected;
        }
    }

    private DraftAcceptance() {
    }

    /**
     * Measures on prompts of {@code promptLength} tokens cut from the start of each window (each at least that
     * long), continued greedily to the context length T, teacher-forced in batches of {@code batchSize}.
     */
    public static Result measure(MtpModel model, List<int[]> windows, int promptLength, int batchSize) {
        int t = model.config().contextLength();
        int n = model.config().predictedTokens();
        int channels = model.config().inputChannels();
        if (promptLength < 1 || promptLength >= t) {
            throw new IllegalArgumentException("the prompt length must be in [1, " + (t - 1) + "], got " + promptLength);
        }
        long[] positions = new long[n + 1];
        long[] agreed = new long[n + 1];
        long[] checked = new long[n + 1];
        long[] accepted = new long[n + 1];
        TextSampler greedy = new TextSampler(model);
        for (int from = 0; from < windows.size(); from += batchSize) {
            List<int[]> batch = windows.subList(from, Math.min(windows.size(), from + batchSize));
            int[][] sequences = new int[batch.size()][];
            double[][][] features = new double[batch.size()][channels][t];
            for (int b = 0; b < batch.size(); b++) {
                int[] window = batch.get(b);
                if (window.length < promptLength) {
                    throw new IllegalArgumentException("window " + (from + b) + " holds " + window.length
                            + " tokens, fewer than the prompt length " + promptLength);
                }
                int[] prompt = Arrays.copyOf(window, promptLength);
                int[] continuation = greedy.generate(prompt, t - promptLength, 0, 0, null);
                int[] s = Arrays.copyOf(prompt, t);
                System.arraycopy(continuation, 0, s, promptLength, continuation.length);
                sequences[b] = s;
                for (int c = 0; c < channels; c++) {
                    for (int p = 0; p + c < t; p++) {
                        features[b][c][p] = s[p + c];     // sequential heads read x[t+c]; the tail stays 0, unused
                    }
                }
            }
            INDArray logits = model.logits(Nd4j.create(features).castTo(model.graph().params().dataType()));
            INDArray best = logits.argMax(3);                                   // [B, n, T]
            for (int b = 0; b < batch.size(); b++) {
                int[] s = sequences[b];
                for (int p = promptLength - 1; p < t; p++) {
                    boolean chain = true;
                    for (int j = 2; j <= n && p + j < t; j++) {
                        boolean agrees = best.getInt(b, j - 1, p) == s[p + j];
                        positions[j]++;
                        agreed[j] += agrees ? 1 : 0;
                        if (chain) {
                            checked[j]++;
                            accepted[j] += agrees ? 1 : 0;
                            chain = agrees;
                        }
                    }
                }
            }
        }
        return new Result(windows.size(), positions, agreed, checked, accepted);
    }
}

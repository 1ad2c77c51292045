package dev.mtpspark.core.generate;

import dev.mtpspark.core.model.MtpModel;
import dev.mtpspark.core.model.Decoder;

import java.util.Arrays;
import java.util.Random;

/**
 * Autoregressive sampling through head 1 only (the ordinary next-token path) on a KV-cached {@link Decoder}: the
 * prompt is prefilled once, then each new token is one pass over one position that computes head 1's logits at
 * that position only.
 *
 * <p>Context policy: the cache holds at most T positions. A prompt longer than T is cut to its newest T tokens.
 * When the cache is full and another token must be fed, the newest T/2 tokens (the new one included) are
 * prefilled again at positions 0..T/2−1, so that every prediction sees at least T/2 tokens of context while a
 * re-prefill happens only once every T/2 tokens. (Learned positions exist only for 0..T−1, so a cache cannot
 * simply slide; the PyTorch reference generator in benchmarks/reference uses the same policy.)
 */
public final class TextSampler {
    private final MtpModel model;

    public TextSampler(MtpModel model) {
        this.model = model;
    }

    /**
     * Generates {@code maxNewTokens} ids after {@code prompt} (which must hold at least one id).
     *
     * @param temperature 0 for greedy decoding, otherwise the softmax temperature
     * @param topK        keep only the k most likely ids before sampling (0 = all)
     */
    public int[] generate(int[] prompt, int maxNewTokens, double temperature, int topK, Random random) {
        if (prompt.length == 0) {
            throw new IllegalArgumentException("the prompt needs at least one token (use the tokenizer's end-of-text id to start a document)");
        }
        if (temperature < 0 || topK < 0) {
            throw new IllegalArgumentException("temperature and top-k must be ≥ 0, got " + temperature + " and " + topK);
        }
        Decoder decoder = model.decoder(1);
        int t = decoder.capacity();
        int[] tokens = Arrays.copyOf(prompt, prompt.length + maxNewTokens);
        int length = prompt.length;
        float[] logits = decoder.prefill(Arrays.copyOfRange(tokens, Math.max(0, length - t), length));
        for (int i = 0; i < maxNewTokens; i++) {
            int next = pick(toDoubles(logits), temperature, topK, random);
            tokens[length++] = next;
            if (i + 1 == maxNewTokens) {
                break;
            }
            if (decoder.length() == t) {
                int keep = Math.max(1, t / 2);
                logits = decoder.prefill(Arrays.copyOfRange(tokens, length - keep, length));
            } else {
                logits = decoder.append(next);
            }
        }
        return Arrays.copyOfRange(tokens, prompt.length, length);
    }

    private static double[] toDoubles(float[] values) {
        double[] out = new double[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = values[i];
        }
        return out;
    }

    static int pick(double[] logits, double temperature, int topK, Random random) {
        if (temperature == 0) {
            int best = 0;
            for (int i = 1; i < logits.length; i++) {
                if (logits[i] > logits[best]) {
                    best = i;
                }
            }
            return best;
        }
        double cutoff = Double.NEGATIVE_INFINITY;
        if (topK > 0 && topK < logits.length) {
            double[] sorted = logits.clone();
            Arrays.sort(sorted);
            cutoff = sorted[sorted.length - topK];
        }
        double max = Arrays.stream(logits).max().orElse(0);
        double[] p = new double[logits.length];
        double sum = 0;
        for (int i = 0; i < logits.length; i++) {
            p[i] = logits[i] >= cutoff ? Math.exp((logits[i] - max) / temperature) : 0;
            sum += p[i];
        }
        double u = random.nextDouble() * sum;
        for (int i = 0; i < p.length; i++) {
            u -= p[i];
            if (u <= 0 && p[i] > 0) {
                return i;
            }
        }
        for (int i = p.length - 1; i >= 0; i--) {
            if (p[i] > 0) {
                return i;
            }
        }
        return 0;
    }
}

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

    /** {@link #generate(int[], int, double, int, Random, int)} without a stop id. */
    public int[] generate(int[] prompt, int maxNewTokens, double temperature, int topK, Random random) {
        return generate(prompt, maxNewTokens, temperature, topK, random, -1);
    }

    /**
     * Generates up to {@code maxNewTokens} ids after {@code prompt} (which must hold at least one id), stopping
     * after {@code stopId} (included in the result; −1: no stop id).
     *
     * @param temperature 0 for greedy decoding, otherwise the softmax temperature
     * @param topK        keep only the k most likely ids before sampling (0 = all)
     */
    public int[] generate(int[] prompt, int maxNewTokens, double temperature, int topK, Random random, int stopId) {
        checkArguments(prompt, maxNewTokens, temperature, topK);
        Decoder decoder = model.decoder(1);
        int t = decoder.capacity();
        int[] tokens = Arrays.copyOf(prompt, prompt.length + maxNewTokens);
        int length = prompt.length;
        float[] logits = decoder.prefill(Arrays.copyOfRange(tokens, Math.max(0, length - t), length));
        for (int i = 0; i < maxNewTokens; i++) {
            int next = Warp.pick(logits, temperature, topK, random);
            tokens[length++] = next;
            if (i + 1 == maxNewTokens || next == stopId) {
                break;
            }
            if (decoder.length() == t) {
                logits = decoder.prefill(Arrays.copyOfRange(tokens, length - reprefillLength(t), length));
            } else {
                logits = decoder.append(next);
            }
        }
        return Arrays.copyOfRange(tokens, prompt.length, length);
    }

    /** Tokens kept when the cache is full: the newest T/2 (at least 1). */
    static int reprefillLength(int contextLength) {
        return Math.max(1, contextLength / 2);
    }

    static void checkArguments(int[] prompt, int maxNewTokens, double temperature, int topK) {
        if (prompt.length == 0) {
            throw new IllegalArgumentException("the prompt needs at least one token (use the tokenizer's end-of-text id to start a document)");
        }
        if (!(temperature >= 0) || topK < 0 || maxNewTokens < 0) {
            throw new IllegalArgumentException("temperature, top-k and the token count must be ≥ 0, got "
                    + temperature + ", " + topK + " and " + maxNewTokens);
        }
    }

    static int pick(double[] logits, double temperature, int topK, Random random) {
        float[] f = new float[logits.length];
        for (int i = 0; i < f.length; i++) {
            f[i] = (float) logits[i];
        }
        return Warp.pick(f, temperature, topK, random);
    }
}

package dev.mtpspark.core.generate;

import java.util.Arrays;
import java.util.Random;

/**
 * How logits become a token: the argmax (greedy; the first of equal maxima), or a sample from the softmax at a
 * temperature over the top-k logits (ties at the k-th value kept). Plain and speculative decoding share it, so
 * "the distribution of plain sampling" is this one.
 */
public final class Warp {
    private Warp() {
    }

    public static int argmax(float[] logits) {
        int best = 0;
        for (int i = 1; i < logits.length; i++) {
            if (logits[i] > logits[best]) {
                best = i;
            }
        }
        return best;
    }

    /** The warped distribution: softmax(logits / temperature) over the top-k logits (k = 0: all), summing to 1. */
    static double[] distribution(float[] logits, double temperature, int topK) {
        double cutoff = Double.NEGATIVE_INFINITY;
        if (topK > 0 && topK < logits.length) {
            float[] sorted = logits.clone();
            Arrays.sort(sorted);
            cutoff = sorted[sorted.length - topK];
        }
        double max = Double.NEGATIVE_INFINITY;
        for (float l : logits) {
            max = Math.max(max, l);
        }
        double[] p = new double[logits.length];
        double sum = 0;
        for (int i = 0; i < logits.length; i++) {
            p[i] = logits[i] >= cutoff ? Math.exp((logits[i] - max) / temperature) : 0;
            sum += p[i];
        }
        for (int i = 0; i < p.length; i++) {
            p[i] /= sum;
        }
        return p;
    }

    /** A draw from {@code weights} (non-negative, not all zero; need not sum to 1). */
    static int sample(double[] weights, Random random) {
        double sum = 0;
        for (double w : weights) {
            sum += w;
        }
        double u = random.nextDouble() * sum;
        int last = -1;
        for (int i = 0; i < weights.length; i++) {
            if (weights[i] > 0) {
                last = i;
                u -= weights[i];
                if (u < 0) {
                    return i;
                }
            }
        }
        return last;
    }

    /** Greedy at temperature 0, else a sample from {@link #distribution}. */
    static int pick(float[] logits, double temperature, int topK, Random random) {
        return temperature == 0 ? argmax(logits) : sample(distribution(logits, temperature, topK), random);
    }
}

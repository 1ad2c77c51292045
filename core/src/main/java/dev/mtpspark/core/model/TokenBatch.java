package dev.mtpspark.core.model;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The ids of one batch as Java arrays, read once from DL4J's arrays: features {@code [B, C, T]} (channel 0 the
 * window's tokens x[t], channel c ≥ 1 the sequential heads' look-ahead tokens x[t+c]) and labels {@code [B, n, T]}
 * (row k−1 holds x[t+k]). Rows are {@code b·T + t}.
 *
 * @param tokens    {@code [channel][row]}
 * @param labels    {@code [horizon − 1][row]}, null without labels
 * @param positions each row's position t
 */
record TokenBatch(int windows, int context, int[][] tokens, int[][] labels, int[] positions) {

    int rows() {
        return windows * context;
    }

    /**
     * @throws IllegalArgumentException naming the place of an id that is not an integer in [0, vocab)
     */
    static TokenBatch of(INDArray features, INDArray labelIds, int vocab) {
        long[] shape = features.shape();
        int windows = (int) shape[0];
        int context = (int) shape[2];
        int[][] tokens = ids(features, vocab, "token id");
        int[][] labels = labelIds == null ? null : ids(labelIds, vocab, "label id");
        int[] positions = new int[windows * context];
        for (int r = 0; r < positions.length; r++) {
            positions[r] = r % context;
        }
        return new TokenBatch(windows, context, tokens, labels, positions);
    }

    /** Windows {@code [from, to)} of this batch. */
    TokenBatch slice(int from, int to) {
        int a = from * context;
        int b = to * context;
        int[][] t = new int[tokens.length][];
        for (int c = 0; c < t.length; c++) {
            t[c] = java.util.Arrays.copyOfRange(tokens[c], a, b);
        }
        int[][] l = null;
        if (labels != null) {
            l = new int[labels.length][];
            for (int k = 0; k < l.length; k++) {
                l[k] = java.util.Arrays.copyOfRange(labels[k], a, b);
            }
        }
        return new TokenBatch(to - from, context, t, l, java.util.Arrays.copyOfRange(positions, a, b));
    }

    /** {@code [B, C, T]} ids as {@code [C][b·T + t]}. */
    private static int[][] ids(INDArray array, int vocab, String what) {
        long[] shape = array.shape();
        int batch = (int) shape[0];
        int channels = (int) shape[1];
        int context = (int) shape[2];
        double[] flat = array.dup('c').data().asDouble();
        int[][] ids = new int[channels][batch * context];
        for (int b = 0; b < batch; b++) {
            for (int c = 0; c < channels; c++) {
                for (int t = 0; t < context; t++) {
                    double v = flat[(b * channels + c) * context + t];
                    int id = (int) v;
                    if (id != v || id < 0 || id >= vocab) {
                        throw new IllegalArgumentException(what + " " + v + " at [" + b + ", " + c + ", " + t
                                + "] is not an integer in [0, " + vocab + ")");
                    }
                    ids[c][b * context + t] = id;
                }
            }
        }
        return ids;
    }
}

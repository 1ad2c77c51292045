package dev.mtpspark.core.stats;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.io.Serializable;
import java.util.Arrays;

/**
 * Per-horizon evaluation sums: the unit that executors compute and the driver merges.
 *
 * <p>For each horizon k it keeps the summed cross-entropy (nats), the number of teacher-forced top-1 hits
 * (the draft acceptance rate of head k), top-5 hits and the token count. Means and perplexity are derived,
 * so merging two instances is exact.
 */
public final class HorizonStats implements Serializable {
    private static final long serialVersionUID = 1L;

    private final double[] lossSum;
    private final long[] correctTop1;
    private final long[] correctTop5;
    private final long[] tokens;

    /** Empty statistics for n horizons. */
    public HorizonStats(int horizons) {
        if (horizons < 1) {
            throw new IllegalArgumentException("horizons must be ≥ 1, got " + horizons);
        }
        lossSum = new double[horizons];
        correctTop1 = new long[horizons];
        correctTop5 = new long[horizons];
        tokens = new long[horizons];
    }

    /**
     * Statistics of one batch from logits {@code [B, n, T, V]} and labels {@code [B, n, T]} (row k−1 = x[t+k]).
     */
    public static HorizonStats fromLogits(INDArray logits, INDArray labels) {
        if (logits.rank() != 4 || labels.rank() != 3 || logits.size(0) != labels.size(0)
                || logits.size(1) != labels.size(1) || logits.size(2) != labels.size(2)) {
            throw new IllegalArgumentException("expected logits [B, n, T, V] and labels [B, n, T], got "
                    + Arrays.toString(logits.shape()) + " and " + Arrays.toString(labels.shape()));
        }
        if (logits.length() > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("logits " + Arrays.toString(logits.shape())
                    + " have more than 2^31 values; score fewer windows per batch");
        }
        int n = (int) logits.size(1);
        int t = (int) logits.size(2);
        int v = (int) logits.size(3);
        int b = (int) logits.size(0);
        // One pass over the values in Java, on a heap copy: ND4J temporaries (log-softmax, comparisons) of every
        // horizon and batch are native memory that only a garbage collection returns, gigabytes per validation pass
        // at n = 8 (docs/performance.md, "Memory of evaluation").
        INDArray c = logits.ordering() == 'c' && !logits.isView() ? logits : logits.dup('c');
        double[] asDouble = c.dataType() == DataType.DOUBLE ? c.data().asDouble() : null;
        float[] asFloat = asDouble == null ? c.castTo(DataType.FLOAT).data().asFloat() : null;
        long[] ids = (labels.ordering() == 'c' && !labels.isView() ? labels : labels.dup('c')).data().asLong();
        HorizonStats stats = new HorizonStats(n);
        for (int window = 0; window < b; window++) {
            for (int k = 0; k < n; k++) {
                for (int pos = 0; pos < t; pos++) {
                    long id = ids[(window * n + k) * t + pos];
                    if (id < 0 || id >= v) {
                        throw new IllegalArgumentException("label " + id + " at horizon " + (k + 1) + " outside [0, " + v + ")");
                    }
                    int row = ((window * n + k) * t + pos) * v;
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < v; j++) {
                        max = Math.max(max, value(asDouble, asFloat, row + j));
                    }
                    double sum = 0;
                    double label = value(asDouble, asFloat, row + (int) id);
                    int higher = 0;                  // classes scoring strictly higher than the label: its rank
                    for (int j = 0; j < v; j++) {
                        double x = value(asDouble, asFloat, row + j);
                        sum += Math.exp(x - max);
                        if (x > label) {
                            higher++;
                        }
                    }
                    stats.lossSum[k] += Math.log(sum) + max - label;
                    stats.correctTop1[k] += higher == 0 ? 1 : 0;
                    stats.correctTop5[k] += higher < 5 ? 1 : 0;
                    stats.tokens[k]++;
                }
            }
        }
        return stats;
    }

    private static double value(double[] asDouble, float[] asFloat, int i) {
        return asDouble != null ? asDouble[i] : asFloat[i];
    }

    /** Adds another instance's sums into this one and returns this (for Spark's merge functions). */
    public HorizonStats merge(HorizonStats other) {
        if (other.horizons() != horizons()) {
            throw new IllegalArgumentException("cannot merge statistics of " + other.horizons() + " horizons into " + horizons());
        }
        for (int k = 0; k < horizons(); k++) {
            lossSum[k] += other.lossSum[k];
            correctTop1[k] += other.correctTop1[k];
            correctTop5[k] += other.correctTop5[k];
            tokens[k] += other.tokens[k];
        }
        return this;
    }

    /** Adds one token's outcome at horizon k (1-based). */
    public void add(int k, double loss, boolean top1, boolean top5) {
        lossSum[k - 1] += loss;
        correctTop1[k - 1] += top1 ? 1 : 0;
        correctTop5[k - 1] += top5 ? 1 : 0;
        tokens[k - 1]++;
    }

    public int horizons() {
        return lossSum.length;
    }

    /** Mean cross-entropy (nats per token) of horizon k (1-based); NaN without tokens. */
    public double loss(int k) {
        return tokens[k - 1] == 0 ? Double.NaN : lossSum[k - 1] / tokens[k - 1];
    }

    /** Teacher-forced top-1 accuracy of horizon k: the acceptance rate of head k's drafts. */
    public double accuracy(int k) {
        return tokens[k - 1] == 0 ? Double.NaN : (double) correctTop1[k - 1] / tokens[k - 1];
    }

    public double top5(int k) {
        return tokens[k - 1] == 0 ? Double.NaN : (double) correctTop5[k - 1] / tokens[k - 1];
    }

    public double perplexity(int k) {
        return Math.exp(loss(k));
    }

    public double lossSum(int k) { return lossSum[k - 1]; }
    public long correctTop1(int k) { return correctTop1[k - 1]; }
    public long correctTop5(int k) { return correctTop5[k - 1]; }
    public long tokens(int k) { return tokens[k - 1]; }

    /** Weighted total Σ_k w_k · loss(k), the quantity the training loss estimates. */
    public double weightedLoss(double[] weights) {
        if (weights.length != horizons()) {
            throw new IllegalArgumentException("expected " + horizons() + " weights, got " + weights.length);
        }
        double total = 0;
        for (int k = 1; k <= horizons(); k++) {
            total += weights[k - 1] * loss(k);
        }
        return total;
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("HorizonStats{");
        for (int k = 1; k <= horizons(); k++) {
            sb.append(String.format("h%d: loss %.4f acc %.4f top5 %.4f (%d tokens)%s", k, loss(k), accuracy(k), top5(k),
                    tokens(k), k < horizons() ? "; " : ""));
        }
        return sb.append('}').toString();
    }
}

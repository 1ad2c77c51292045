package dev.mtpspark.core.stats;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.ops.transforms.Transforms;

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
        int n = (int) logits.size(1);
        long v = logits.size(3);
        HorizonStats stats = new HorizonStats(n);
        for (int k = 0; k < n; k++) {
            INDArray rows = logits.get(NDArrayIndex.all(), NDArrayIndex.point(k), NDArrayIndex.all(), NDArrayIndex.all())
                    .dup('c').reshape(-1, v).castTo(DataType.DOUBLE);
            INDArray ids = labels.get(NDArrayIndex.all(), NDArrayIndex.point(k), NDArrayIndex.all()).dup('c').reshape(-1);
            INDArray max = rows.max(true, 1);
            INDArray logSumExp = Transforms.log(
                    Transforms.exp(rows.subColumnVector(max), false).sum(true, 1), false).addi(max);
            long count = rows.size(0);
            double[] labelLogit = new double[(int) count];
            for (int i = 0; i < count; i++) {
                long id = ids.getLong(i);
                if (id < 0 || id >= v) {
                    throw new IllegalArgumentException("label " + id + " at horizon " + (k + 1) + " outside [0, " + v + ")");
                }
                labelLogit[i] = rows.getDouble(i, id);
                stats.lossSum[k] += logSumExp.getDouble(i) - labelLogit[i];
            }
            INDArray target = Nd4j.createFromArray(labelLogit).reshape(count, 1);
            // rank = how many classes score strictly higher than the label; top-1 hit at rank 0, top-5 below 5.
            INDArray higher = rows.gt(target.broadcast(count, v)).castTo(DataType.INT).sum(1);
            for (int i = 0; i < count; i++) {
                long rank = higher.getLong(i);
                if (rank == 0) {
                    stats.correctTop1[k]++;
                }
                if (rank < 5) {
                    stats.correctTop5[k]++;
                }
            }
            stats.tokens[k] += count;
        }
        return stats;
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

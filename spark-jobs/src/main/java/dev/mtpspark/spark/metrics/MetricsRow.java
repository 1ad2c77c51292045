package dev.mtpspark.spark.metrics;

import dev.mtpspark.core.stats.HorizonStats;

import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * One logged measurement of a training run: a training log interval or a validation pass.
 *
 * <p>Per-horizon arrays are indexed k − 1 for horizons k = 1..n and all have length n. {@link #totalLoss()} is the
 * weighted training objective Σ_k w_k · loss_k. Values may be NaN (e.g. a horizon without tokens). The record is
 * immutable: the arrays are copied on construction and on access, and {@code equals}/{@code hashCode} compare
 * their contents (NaN equals NaN, as in {@link Arrays#equals(double[], double[])}).
 *
 * @param split           {@link #TRAIN} or {@link #VALIDATION}
 * @param step            optimizer steps completed when the row was measured
 * @param tokensSeen      training tokens consumed so far (the charts' x axis)
 * @param learningRate    learning rate at that step
 * @param tokensPerSecond training throughput over the interval (NaN where it does not apply)
 * @param elapsedSeconds  wall time since the run started
 * @param totalLoss       Σ_k w_k · loss_k
 * @param loss            mean cross-entropy (nats/token) per horizon
 * @param accuracy        teacher-forced top-1 accuracy per horizon (head k's draft acceptance rate)
 * @param top5            top-5 accuracy per horizon
 * @param perplexity      exp(loss) per horizon
 * @param tokens          tokens evaluated per horizon
 * @param taskScores      a synthetic task's scores ({@code task/…} names, in order), measured with a validation pass
 *                        when {@code evaluation.task} is set; empty otherwise
 */
public record MetricsRow(String split, long step, long tokensSeen, double learningRate, double tokensPerSecond,
                         double elapsedSeconds, double totalLoss, double[] loss, double[] accuracy, double[] top5,
                         double[] perplexity, long[] tokens, Map<String, Double> taskScores) {

    /** A row without task scores. */
    public MetricsRow(String split, long step, long tokensSeen, double learningRate, double tokensPerSecond,
                      double elapsedSeconds, double totalLoss, double[] loss, double[] accuracy, double[] top5,
                      double[] perplexity, long[] tokens) {
        this(split, step, tokensSeen, learningRate, tokensPerSecond, elapsedSeconds, totalLoss, loss, accuracy, top5,
                perplexity, tokens, Map.of());
    }

    /** The split name of training log-interval rows. */
    public static final String TRAIN = "train";
    /** The split name of validation-pass rows. */
    public static final String VALIDATION = "validation";

    public MetricsRow {
        if (!TRAIN.equals(split) && !VALIDATION.equals(split)) {
            throw new IllegalArgumentException("split must be \"" + TRAIN + "\" or \"" + VALIDATION + "\", got " + split);
        }
        Objects.requireNonNull(loss, "loss");
        Objects.requireNonNull(accuracy, "accuracy");
        Objects.requireNonNull(top5, "top5");
        Objects.requireNonNull(perplexity, "perplexity");
        Objects.requireNonNull(tokens, "tokens");
        int n = loss.length;
        if (n < 1 || accuracy.length != n || top5.length != n || perplexity.length != n || tokens.length != n) {
            throw new IllegalArgumentException("per-horizon arrays must all have the same length ≥ 1, got loss "
                    + loss.length + ", accuracy " + accuracy.length + ", top5 " + top5.length + ", perplexity "
                    + perplexity.length + ", tokens " + tokens.length);
        }
        loss = loss.clone();
        accuracy = accuracy.clone();
        top5 = top5.clone();
        perplexity = perplexity.clone();
        tokens = tokens.clone();
        Objects.requireNonNull(taskScores, "taskScores");
        for (String name : taskScores.keySet()) {
            if (!name.startsWith(TASK_PREFIX)) {
                throw new IllegalArgumentException("task score names start with " + TASK_PREFIX + ", got " + name);
            }
        }
        taskScores = Collections.unmodifiableMap(new LinkedHashMap<>(taskScores));
    }

    /** The prefix of task score names, which keeps them apart from the per-horizon columns. */
    public static final String TASK_PREFIX = "task/";

    /** This row with {@code scores} as its task scores. */
    public MetricsRow withTaskScores(Map<String, Double> scores) {
        return new MetricsRow(split, step, tokensSeen, learningRate, tokensPerSecond, elapsedSeconds, totalLoss, loss,
                accuracy, top5, perplexity, tokens, scores);
    }

    /**
     * The row of merged statistics {@code stats}; {@code lossWeights} (length n) are the per-horizon weights w_k
     * of the training objective, giving {@link #totalLoss()}.
     */
    public static MetricsRow of(String split, long step, long tokensSeen, double learningRate, double tokensPerSecond,
                                double elapsedSeconds, HorizonStats stats, double[] lossWeights) {
        int n = stats.horizons();
        double[] loss = new double[n];
        double[] accuracy = new double[n];
        double[] top5 = new double[n];
        double[] perplexity = new double[n];
        long[] tokens = new long[n];
        for (int k = 1; k <= n; k++) {
            loss[k - 1] = stats.loss(k);
            accuracy[k - 1] = stats.accuracy(k);
            top5[k - 1] = stats.top5(k);
            perplexity[k - 1] = stats.perplexity(k);
            tokens[k - 1] = stats.tokens(k);
        }
        return new MetricsRow(split, step, tokensSeen, learningRate, tokensPerSecond, elapsedSeconds,
                stats.weightedLoss(lossWeights), loss, accuracy, top5, perplexity, tokens);
    }

    /** n, the number of predicted tokens (heads). */
    public int horizons() {
        return loss.length;
    }

    public boolean isTrain() {
        return TRAIN.equals(split);
    }

    public boolean isValidation() {
        return VALIDATION.equals(split);
    }

    @Override
    public double[] loss() {
        return loss.clone();
    }

    @Override
    public double[] accuracy() {
        return accuracy.clone();
    }

    @Override
    public double[] top5() {
        return top5.clone();
    }

    @Override
    public double[] perplexity() {
        return perplexity.clone();
    }

    @Override
    public long[] tokens() {
        return tokens.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof MetricsRow r && split.equals(r.split) && step == r.step && tokensSeen == r.tokensSeen
                && Double.compare(learningRate, r.learningRate) == 0
                && Double.compare(tokensPerSecond, r.tokensPerSecond) == 0
                && Double.compare(elapsedSeconds, r.elapsedSeconds) == 0
                && Double.compare(totalLoss, r.totalLoss) == 0
                && Arrays.equals(loss, r.loss) && Arrays.equals(accuracy, r.accuracy) && Arrays.equals(top5, r.top5)
                && Arrays.equals(perplexity, r.perplexity) && Arrays.equals(tokens, r.tokens)
                && taskScores.equals(r.taskScores);
    }

    @Override
    public int hashCode() {
        int h = Objects.hash(split, step, tokensSeen, learningRate, tokensPerSecond, elapsedSeconds, totalLoss);
        h = 31 * h + Arrays.hashCode(loss);
        h = 31 * h + Arrays.hashCode(accuracy);
        h = 31 * h + Arrays.hashCode(top5);
        h = 31 * h + Arrays.hashCode(perplexity);
        h = 31 * h + Arrays.hashCode(tokens);
        return 31 * h + taskScores.hashCode();
    }

    @Override
    public String toString() {
        return "MetricsRow[" + split + ", step " + step + ", tokensSeen " + tokensSeen + ", lr " + learningRate
                + ", tokens/s " + tokensPerSecond + ", elapsed " + elapsedSeconds + " s, total loss " + totalLoss
                + ", loss " + Arrays.toString(loss) + ", accuracy " + Arrays.toString(accuracy) + ", top5 "
                + Arrays.toString(top5) + ", perplexity " + Arrays.toString(perplexity) + ", tokens "
                + Arrays.toString(tokens) + (taskScores.isEmpty() ? "" : ", tasks " + taskScores) + "]";
    }
}

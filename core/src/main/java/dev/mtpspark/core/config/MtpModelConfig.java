package dev.mtpspark.core.config;

import java.io.Serializable;
import java.util.Arrays;
import java.util.Objects;

/**
 * Typed, validated configuration of a multi-token prediction transformer.
 *
 * <p>Every instance is valid: the canonical constructor checks each key and throws
 * {@link InvalidConfigException} naming the key, the value and the valid range. Build instances with
 * {@link #builder()}; the defaults are the nanoGPT character-level CPU recipe (4 layers, 4 heads,
 * width 128, T = 64) with n = 4 parallel heads.
 *
 * @param vocabSize          number of token ids, ≥ 2
 * @param contextLength      T, the number of input positions per window, ≥ 1
 * @param modelWidth         d, the residual-stream width; divisible by {@code attentionHeads}
 * @param attentionHeads     attention heads per block, ≥ 1
 * @param trunkDepth         number of shared trunk blocks, ≥ 0
 * @param mlpWidth           hidden width of every block's MLP, ≥ 1
 * @param predictedTokens    n, number of future tokens predicted (n = 1 is the ordinary next-token LM)
 * @param headArchitecture   parallel blocks (paper), sequential (DeepSeek-V3) or linear heads
 * @param lossWeights        w_1..w_n, non-negative, not all zero, length n
 * @param normType           LayerNorm or RMSNorm
 * @param positionalEncoding learned absolute table or RoPE
 * @param dropout            dropout probability in [0, 1)
 * @param normEpsilon        epsilon inside every norm, > 0
 * @param initStd            standard deviation of the normal weight initialisation, > 0
 * @param seed               seed of the weight initialisation
 * @param stepThreads        how many threads one training step may use (CPU backend): the minibatch is split into
 *                           min(threads, batch) shards computed concurrently, each with an equal share of the
 *                           threads for its ND4J operations; the shards' gradients are summed, so the step is the
 *                           same function. 0 = every core the JVM may use (a Spark job resolves 0 to
 *                           {@code spark.task.cpus}); the GPU backend uses one shard
 */
public record MtpModelConfig(
        int vocabSize,
        int contextLength,
        int modelWidth,
        int attentionHeads,
        int trunkDepth,
        int mlpWidth,
        int predictedTokens,
        HeadArchitecture headArchitecture,
        double[] lossWeights,
        NormType normType,
        PositionalEncoding positionalEncoding,
        double dropout,
        double normEpsilon,
        double initStd,
        long seed,
        int stepThreads) implements Serializable {

    /** Upper bound on n; beyond it the [B, n, T, V] outputs stop making sense for any vocabulary. */
    public static final int MAX_PREDICTED_TOKENS = 64;

    /** Upper bound on {@code stepThreads}; far more threads than cores only costs. */
    public static final int MAX_STEP_THREADS = 256;

    public MtpModelConfig {
        requireAtLeast("vocabSize", vocabSize, 2);
        requireAtLeast("contextLength", contextLength, 1);
        requireAtLeast("modelWidth", modelWidth, 1);
        requireAtLeast("attentionHeads", attentionHeads, 1);
        requireAtLeast("trunkDepth", trunkDepth, 0);
        requireAtLeast("mlpWidth", mlpWidth, 1);
        if (predictedTokens < 1 || predictedTokens > MAX_PREDICTED_TOKENS) {
            throw new InvalidConfigException("predictedTokens", predictedTokens,
                    "must be in [1, " + MAX_PREDICTED_TOKENS + "] (n = 1 is the ordinary next-token model)");
        }
        if (modelWidth % attentionHeads != 0) {
            throw new InvalidConfigException("modelWidth", modelWidth,
                    "must be divisible by attentionHeads (" + attentionHeads + ")");
        }
        Objects.requireNonNull(headArchitecture, "headArchitecture");
        Objects.requireNonNull(normType, "normType");
        Objects.requireNonNull(positionalEncoding, "positionalEncoding");
        if (positionalEncoding == PositionalEncoding.ROPE && (modelWidth / attentionHeads) % 2 != 0) {
            throw new InvalidConfigException("attentionHeads", attentionHeads,
                    "with ROPE the head width modelWidth/attentionHeads (" + modelWidth / attentionHeads + ") must be even");
        }
        lossWeights = validateWeights(lossWeights, predictedTokens);
        if (stepThreads < 0 || stepThreads > MAX_STEP_THREADS) {
            throw new InvalidConfigException("stepThreads", stepThreads,
                    "must be in [0, " + MAX_STEP_THREADS + "] (0 = every CPU core the JVM may use)");
        }
        if (!(dropout >= 0.0 && dropout < 1.0)) {
            throw new InvalidConfigException("dropout", dropout, "must be in [0, 1)");
        }
        if (!(normEpsilon > 0.0) || Double.isInfinite(normEpsilon)) {
            throw new InvalidConfigException("normEpsilon", normEpsilon, "must be a finite number > 0");
        }
        if (!(initStd > 0.0) || Double.isInfinite(initStd)) {
            throw new InvalidConfigException("initStd", initStd, "must be a finite number > 0");
        }
    }

    /**
     * Checks a weight vector for n horizons and returns a defensive copy.
     *
     * @throws InvalidConfigException naming {@code lossWeights} when the length is not n, a weight is
     *                                negative or not finite, or all weights are zero
     */
    public static double[] validateWeights(double[] weights, int n) {
        if (weights == null) {
            throw new InvalidConfigException("lossWeights", null, "must list " + n + " weights (one per predicted token)");
        }
        if (weights.length != n) {
            throw new InvalidConfigException("lossWeights", weights,
                    "has " + weights.length + " entries but predictedTokens = " + n + " (need exactly one weight per horizon)");
        }
        double sum = 0;
        for (int k = 0; k < weights.length; k++) {
            if (!Double.isFinite(weights[k]) || weights[k] < 0) {
                throw new InvalidConfigException("lossWeights", weights,
                        "weight of horizon " + (k + 1) + " is " + weights[k] + "; every weight must be finite and ≥ 0");
            }
            sum += weights[k];
        }
        if (sum == 0) {
            throw new InvalidConfigException("lossWeights", weights, "all weights are zero; at least one must be > 0");
        }
        return weights.clone();
    }

    @Override
    public double[] lossWeights() {
        return lossWeights.clone();
    }

    /** Width of one attention head, d / heads. */
    public int headWidth() {
        return modelWidth / attentionHeads;
    }

    /**
     * Number of token channels in a feature array: 1 (the window's first T tokens) for parallel and
     * linear heads; n for sequential heads, whose depth k also reads token t+k−1 (teacher forcing).
     */
    public int inputChannels() {
        return headArchitecture == HeadArchitecture.SEQUENTIAL ? predictedTokens : 1;
    }

    /** Tokens per training window: T inputs plus n look-ahead tokens, so every horizon has a label everywhere. */
    public int windowLength() {
        return contextLength + predictedTokens;
    }

    /** A builder preset to these values, for variations. */
    public Builder toBuilder() {
        return new Builder().vocabSize(vocabSize).contextLength(contextLength).modelWidth(modelWidth)
                .attentionHeads(attentionHeads).trunkDepth(trunkDepth).mlpWidth(mlpWidth)
                .predictedTokens(predictedTokens).headArchitecture(headArchitecture).lossWeights(lossWeights)
                .normType(normType).positionalEncoding(positionalEncoding).dropout(dropout)
                .normEpsilon(normEpsilon).initStd(initStd).seed(seed).stepThreads(stepThreads);
    }

    public static Builder builder() {
        return new Builder();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof MtpModelConfig c && vocabSize == c.vocabSize && contextLength == c.contextLength
                && modelWidth == c.modelWidth && attentionHeads == c.attentionHeads && trunkDepth == c.trunkDepth
                && mlpWidth == c.mlpWidth && predictedTokens == c.predictedTokens
                && headArchitecture == c.headArchitecture && Arrays.equals(lossWeights, c.lossWeights)
                && normType == c.normType && positionalEncoding == c.positionalEncoding
                && Double.compare(dropout, c.dropout) == 0 && Double.compare(normEpsilon, c.normEpsilon) == 0
                && Double.compare(initStd, c.initStd) == 0 && seed == c.seed
                && stepThreads == c.stepThreads;
    }

    @Override
    public int hashCode() {
        return Objects.hash(vocabSize, contextLength, modelWidth, attentionHeads, trunkDepth, mlpWidth,
                predictedTokens, headArchitecture, Arrays.hashCode(lossWeights), normType, positionalEncoding,
                dropout, normEpsilon, initStd, seed, stepThreads);
    }

    @Override
    public String toString() {
        return "MtpModelConfig{vocabSize=" + vocabSize + ", contextLength=" + contextLength + ", modelWidth="
                + modelWidth + ", attentionHeads=" + attentionHeads + ", trunkDepth=" + trunkDepth + ", mlpWidth="
                + mlpWidth + ", predictedTokens=" + predictedTokens + ", headArchitecture=" + headArchitecture
                + ", lossWeights=" + Arrays.toString(lossWeights) + ", normType=" + normType
                + ", positionalEncoding=" + positionalEncoding + ", dropout=" + dropout + ", normEpsilon="
                + normEpsilon + ", initStd=" + initStd + ", seed=" + seed + ", stepThreads=" + stepThreads + "}";
    }

    private static void requireAtLeast(String key, int value, int min) {
        if (value < min) {
            throw new InvalidConfigException(key, value, "must be ≥ " + min);
        }
    }

    /** Mutable builder; {@link #build()} validates. Unset weights default to the uniform scheme. */
    public static final class Builder {
        private int vocabSize = 65;
        private int contextLength = 64;
        private int modelWidth = 128;
        private int attentionHeads = 4;
        private int trunkDepth = 4;
        private Integer mlpWidth;
        private int predictedTokens = 4;
        private HeadArchitecture headArchitecture = HeadArchitecture.PARALLEL;
        private double[] lossWeights;
        private LossWeightScheme scheme = LossWeightScheme.UNIFORM;
        private double gamma = 1.0;
        private NormType normType = NormType.LAYER_NORM;
        private PositionalEncoding positionalEncoding = PositionalEncoding.LEARNED;
        private double dropout;
        private double normEpsilon = 1e-5;
        private double initStd = 0.02;
        private long seed = 1234;
        private int stepThreads;

        public Builder vocabSize(int v) { vocabSize = v; return this; }
        public Builder contextLength(int v) { contextLength = v; return this; }
        public Builder modelWidth(int v) { modelWidth = v; return this; }
        public Builder attentionHeads(int v) { attentionHeads = v; return this; }
        public Builder trunkDepth(int v) { trunkDepth = v; return this; }
        /** MLP hidden width; defaults to 4 × modelWidth. */
        public Builder mlpWidth(int v) { mlpWidth = v; return this; }
        public Builder predictedTokens(int v) { predictedTokens = v; return this; }
        public Builder headArchitecture(HeadArchitecture v) { headArchitecture = v; return this; }
        /** Explicit weights w_1..w_n; overrides any scheme. */
        public Builder lossWeights(double... w) { lossWeights = w == null ? null : w.clone(); return this; }
        /** Weights from a scheme, resolved for n at {@link #build()}; {@code gamma} is used by GEOMETRIC. */
        public Builder lossWeightScheme(LossWeightScheme s, double gamma) {
            if (s == LossWeightScheme.GEOMETRIC && !(gamma > 0 && gamma <= 1)) {
                throw new InvalidConfigException("lossWeightGamma", gamma, "must be in (0, 1] for the GEOMETRIC scheme");
            }
            scheme = Objects.requireNonNull(s, "lossWeightScheme");
            this.gamma = gamma;
            lossWeights = null;
            return this;
        }
        public Builder normType(NormType v) { normType = v; return this; }
        public Builder positionalEncoding(PositionalEncoding v) { positionalEncoding = v; return this; }
        public Builder dropout(double v) { dropout = v; return this; }
        public Builder normEpsilon(double v) { normEpsilon = v; return this; }
        public Builder initStd(double v) { initStd = v; return this; }
        public Builder seed(long v) { seed = v; return this; }
        /** Threads per training step; 0 = every core. */
        public Builder stepThreads(int v) { stepThreads = v; return this; }

        public MtpModelConfig build() {
            double[] w = lossWeights != null ? lossWeights
                    : predictedTokens >= 1 && predictedTokens <= MAX_PREDICTED_TOKENS ? scheme.weights(predictedTokens, gamma)
                    : new double[] {1};
            return new MtpModelConfig(vocabSize, contextLength, modelWidth, attentionHeads, trunkDepth,
                    mlpWidth == null ? 4 * modelWidth : mlpWidth, predictedTokens, headArchitecture, w, normType,
                    positionalEncoding, dropout, normEpsilon, initStd, seed, stepThreads);
        }
    }
}

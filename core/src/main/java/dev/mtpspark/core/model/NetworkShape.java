package dev.mtpspark.core.model;

import dev.mtpspark.core.config.HeadArchitecture;
import dev.mtpspark.core.config.NormType;
import dev.mtpspark.core.config.PositionalEncoding;

/**
 * The sizes and kinds of one network, read once from the layer configuration (a JSON bean for DL4J) into
 * immutable fields for the code that computes with them.
 */
record NetworkShape(int vocab, int context, int width, int attentionHeads, int mlpWidth, int depth, int horizons,
                    HeadArchitecture architecture, boolean layerNorm, boolean rotary, double eps, double initStd,
                    int residualBlocks, long seed, double dropout) {

    static NetworkShape of(MtpNetworkLayer conf) {
        BlockSpec s = conf.getSpec();
        return new NetworkShape(conf.getVocabSize(), s.getContextLength(), s.getModelWidth(), s.getAttentionHeads(),
                s.getMlpWidth(), conf.getTrunkDepth(), conf.getPredictedTokens(), conf.getHeadArchitecture(),
                s.getNormType() == NormType.LAYER_NORM, s.getPositionalEncoding() == PositionalEncoding.ROPE,
                s.getNormEpsilon(), s.getInitStd(), s.getResidualBlocks(), s.getSeed(), conf.getDropout());
    }

    int headWidth() {
        return width / attentionHeads;
    }

    boolean sequential() {
        return architecture == HeadArchitecture.SEQUENTIAL;
    }

    /** Token channels of an input: n for sequential heads (their look-ahead tokens x[t+1..t+n−1]), else 1. */
    int channels() {
        return sequential() ? horizons : 1;
    }

    /**
     * Dropout points, each a {@code [rows, d]} mask: the input of every trunk block, the heads' input and, for
     * sequential heads, each look-ahead embedding; none without dropout.
     */
    int dropoutPoints() {
        return dropout > 0 ? depth + 1 + (sequential() ? horizons - 1 : 0) : 0;
    }
}

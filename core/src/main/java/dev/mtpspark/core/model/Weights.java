package dev.mtpspark.core.model;

import dev.mtpspark.core.kernels.DenseMatrix;

/**
 * The network's parameters, typed: one record per part, each field a {@link DenseMatrix} with its shape in the
 * comment (d = model width, m = MLP width, V = vocabulary, T = context length). The same types hold the
 * gradients. {@link ParameterLayout} binds them to DL4J's parameter (or gradient) arrays.
 */
public final class Weights {
    private Weights() {
    }

    /** A LayerNorm (gain and bias) or an RMSNorm (gain only). */
    public record Norm(
            DenseMatrix gain,        // [d]
            DenseMatrix bias) {      // [d], null for RMSNorm
    }

    /** One pre-norm transformer block: {@code x + attn(norm1(x))}, then {@code + mlp(norm2(·))}. */
    public record Block(
            Norm norm1,
            DenseMatrix qkvWeight,    // [d, 3d], columns q | k | v, each [heads, headWidth]
            DenseMatrix qkvBias,      // [3d]
            DenseMatrix outWeight,    // [d, d]
            DenseMatrix outBias,      // [d]
            Norm norm2,
            DenseMatrix mlpInWeight,  // [d, m]
            DenseMatrix mlpInBias,    // [m]
            DenseMatrix mlpOutWeight, // [m, d]
            DenseMatrix mlpOutBias) { // [d]
    }

    /** Head k's own parameters, one kind per head architecture. */
    public sealed interface Head permits ParallelHead, SequentialHead, LinearHead {
    }

    /** Parallel heads (the paper): one block on the trunk output. */
    public record ParallelHead(Block block) implements Head {
    }

    /**
     * A sequential (DeepSeek-V3) depth k ≥ 2: {@code block(M_k [hiddenNorm(h_{k−1}); embeddingNorm(emb(x_{t+k−1}))])};
     * depth 1 is the trunk itself and has no parameters (null in {@link Model#heads}).
     */
    public record SequentialHead(
            Norm hiddenNorm,
            Norm embeddingNorm,
            DenseMatrix projection,   // [2d, d]
            Block block) implements Head {
    }

    /** The linear-head ablation: {@code z·W + b}. */
    public record LinearHead(
            DenseMatrix weight,       // [d, d]
            DenseMatrix bias) implements Head {   // [d]
    }

    /** The whole network. */
    public record Model(
            DenseMatrix tokens,       // [V, d], also the sequential heads' look-ahead embedding
            DenseMatrix positions,    // [T, d], null with rotary positions
            Block[] trunk,            // trunkDepth blocks
            Head[] heads,             // n heads; heads[k − 1] is head k
            Norm finalNorm,           // shared by every head
            DenseMatrix unembedding) { // [d, V], shared by every head
    }
}

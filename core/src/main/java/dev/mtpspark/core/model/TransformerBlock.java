package dev.mtpspark.core.model;

import dev.mtpspark.core.kernels.DenseMatrix;
import dev.mtpspark.core.kernels.Kernels;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * One causal pre-norm block, as GPT-2's: {@code mid = x + attn(norm1(x))}, {@code out = mid + mlp(norm2(mid))},
 * with a fused QKV projection, optional rotary positions on queries and keys, and a GELU (tanh form) MLP. Forward
 * over whole windows (training, scoring), forward over new rows against a {@link KvCache.Layer} (generation), and
 * backward, all on {@link Kernels}. Activations are position rows {@code [rows, d]}.
 */
final class TransformerBlock {
    private final NetworkShape shape;
    private final Kernels kernels;
    private final int d;
    private final int m;

    TransformerBlock(NetworkShape shape, Kernels kernels) {
        this.shape = shape;
        this.kernels = kernels;
        this.d = shape.width();
        this.m = shape.mlpWidth();
    }

    /** What a block's forward pass keeps for its backward pass, for up to {@code rows} rows. */
    static final class Activations {
        final int rows;
        final DenseMatrix in;
        final DenseMatrix hat1;
        final DenseMatrix rstd1;
        final DenseMatrix normed1;
        final DenseMatrix qkv;        // [rows, 3d]
        final DenseMatrix probs;      // [rows / T, heads, T, T] in training; [1, heads, rows, keys] with a cache
        final DenseMatrix attended;
        final DenseMatrix mid;
        final DenseMatrix hat2;
        final DenseMatrix rstd2;
        final DenseMatrix normed2;
        final DenseMatrix hidden;     // [rows, m]
        final DenseMatrix sigmoid;
        final DenseMatrix activated;
        final DenseMatrix out;

        Activations(NetworkShape s, DataType type, int rows) {
            this.rows = rows;
            long rd = (long) rows * s.width();
            long rm = (long) rows * s.mlpWidth();
            in = DenseMatrix.allocate(type, rd);
            hat1 = DenseMatrix.allocate(type, rd);
            rstd1 = DenseMatrix.allocate(type, rows);
            normed1 = DenseMatrix.allocate(type, rd);
            qkv = DenseMatrix.allocate(type, 3 * rd);
            probs = DenseMatrix.allocate(type, (long) rows * s.attentionHeads() * s.context());
            attended = DenseMatrix.allocate(type, rd);
            mid = DenseMatrix.allocate(type, rd);
            hat2 = DenseMatrix.allocate(type, rd);
            rstd2 = DenseMatrix.allocate(type, rows);
            normed2 = DenseMatrix.allocate(type, rd);
            hidden = DenseMatrix.allocate(type, rm);
            sigmoid = DenseMatrix.allocate(type, rm);
            activated = DenseMatrix.allocate(type, rm);
            out = DenseMatrix.allocate(type, rd);
        }
    }

    /** Backward scratch, shared by the blocks of one network instance (they run one at a time). */
    static final class Scratch {
        final DenseMatrix gradY;
        final DenseMatrix gradSmall;
        final DenseMatrix gradMlp;
        final DenseMatrix gradQkv;

        Scratch(NetworkShape s, DataType type, int rows) {
            long rd = (long) rows * s.width();
            gradY = DenseMatrix.allocate(type, rd);
            gradSmall = DenseMatrix.allocate(type, rd);
            gradMlp = DenseMatrix.allocate(type, (long) rows * s.mlpWidth());
            gradQkv = DenseMatrix.allocate(type, 3 * rd);
        }
    }

    /** Forward over {@code a.rows / T} whole windows; {@code mask} (dropout of the input) may be null. */
    void forward(Weights.Block w, Activations a, DenseMatrix input, DenseMatrix mask) {
        int rows = a.rows;
        int t = shape.context();
        attentionInput(w, a, input, mask, rows, 0, t);
        kernels.attentionForward(rows / t, t, t, t, shape.attentionHeads(), shape.headWidth(), a.qkv, 0, 3 * d,
                a.qkv, d, a.qkv, 2 * d, 3 * d, a.probs, a.attended, d);
        mlp(w, a, rows);
    }

    /**
     * Forward over {@code rows} new positions of one sequence, which continue the {@code cache.length()} cached
     * ones: appends their keys and values to the cache (the caller advances its length).
     */
    void forwardCached(Weights.Block w, Activations a, DenseMatrix input, int rows, KvCache.Layer cache, int cached) {
        cacheKeysValues(w, a, input, rows, cache, cached);
        kernels.attentionForward(1, rows, cached + rows, shape.context(), shape.attentionHeads(), shape.headWidth(),
                a.qkv, 0, 3 * d, cache.keys(), 0, cache.values(), 0, d, a.probs, a.attended, d);
        mlp(w, a, rows);
    }

    /**
     * Only the keys and values of {@code rows} new positions, appended to the cache (the caller advances its
     * length): all that a position needs whose own output nobody reads, as a drafting head's positions before the
     * one it drafts at. About a quarter of the block's products.
     */
    void cacheKeysValues(Weights.Block w, Activations a, DenseMatrix input, int rows, KvCache.Layer cache, int cached) {
        attentionInput(w, a, input, null, rows, cached, Integer.MAX_VALUE);
        kernels.copy(a.qkv, d, 3 * d, cache.keys(), cached * d, d, rows, d);
        kernels.copy(a.qkv, 2 * d, 3 * d, cache.values(), cached * d, d, rows, d);
    }

    /** Input (times its mask), first norm, QKV projection and the rotation of queries and keys. */
    private void attentionInput(Weights.Block w, Activations a, DenseMatrix input, DenseMatrix mask, int rows,
                                int firstPosition, int period) {
        if (mask != null) {
            kernels.multiply(input, mask, a.in, rows * d);
        } else if (input != a.in) {
            kernels.copy(input, 0, d, a.in, 0, d, rows, d);
        }
        kernels.normForward(a.in, rows, d, w.norm1().gain(), w.norm1().bias(), shape.eps(), a.hat1, a.rstd1, a.normed1);
        affine(a.normed1, rows, d, w.qkvWeight(), 3 * d, w.qkvBias(), null, a.qkv);
        if (shape.rotary()) {
            kernels.rotate(a.qkv, 0, 3 * d, rows, shape.attentionHeads(), firstPosition, period, false);
            kernels.rotate(a.qkv, d, 3 * d, rows, shape.attentionHeads(), firstPosition, period, false);
        }
    }

    /** Attention output projection and residual, then the MLP half of the block. */
    private void mlp(Weights.Block w, Activations a, int rows) {
        affine(a.attended, rows, d, w.outWeight(), d, w.outBias(), a.in, a.mid);
        kernels.normForward(a.mid, rows, d, w.norm2().gain(), w.norm2().bias(), shape.eps(), a.hat2, a.rstd2, a.normed2);
        affine(a.normed2, rows, d, w.mlpInWeight(), m, w.mlpInBias(), null, a.hidden);
        kernels.geluForward(a.hidden, a.sigmoid, a.activated, rows * m);
        affine(a.activated, rows, m, w.mlpOutWeight(), d, w.mlpOutBias(), a.mid, a.out);
    }

    /**
     * Back through a {@link #forward}: from {@code gradOut} (dL/d out) to {@code gradIn} (dL/d input before its
     * mask; the caller applies the mask), adding the parameter gradients to {@code g}.
     */
    void backward(Weights.Block w, Weights.Block g, Activations a, Scratch s, DenseMatrix gradOut, DenseMatrix gradIn) {
        int rows = a.rows;
        int t = shape.context();
        affineBackward(a.activated, rows, m, w.mlpOutWeight(), d, g.mlpOutWeight(), g.mlpOutBias(), gradOut, s.gradMlp);
        kernels.geluBackward(a.hidden, a.sigmoid, s.gradMlp, rows * m);
        affineBackward(a.normed2, rows, d, w.mlpInWeight(), m, g.mlpInWeight(), g.mlpInBias(), s.gradMlp, s.gradSmall);
        kernels.copy(gradOut, 0, d, s.gradY, 0, d, rows, d);
        kernels.normBackward(s.gradSmall, a.hat2, a.rstd2, rows, d, w.norm2().gain(), shape.layerNorm(),
                g.norm2().gain(), g.norm2().bias(), s.gradY, true);
        affineBackward(a.attended, rows, d, w.outWeight(), d, g.outWeight(), g.outBias(), s.gradY, s.gradSmall);
        kernels.attentionBackward(rows / t, t, shape.attentionHeads(), shape.headWidth(), a.qkv, a.probs, s.gradSmall, s.gradQkv);
        if (shape.rotary()) {
            kernels.rotate(s.gradQkv, 0, 3 * d, rows, shape.attentionHeads(), 0, t, true);
            kernels.rotate(s.gradQkv, d, 3 * d, rows, shape.attentionHeads(), 0, t, true);
        }
        affineBackward(a.normed1, rows, d, w.qkvWeight(), 3 * d, g.qkvWeight(), g.qkvBias(), s.gradQkv, s.gradSmall);
        kernels.copy(s.gradY, 0, d, gradIn, 0, d, rows, d);
        kernels.normBackward(s.gradSmall, a.hat1, a.rstd1, rows, d, w.norm1().gain(), shape.layerNorm(),
                g.norm1().gain(), g.norm1().bias(), gradIn, true);
    }

    /** {@code out = (residual or 0) + x·W + bias}: x {@code [rows, in]}, W {@code [in, width]}; bias may be null. */
    void affine(DenseMatrix x, int rows, int in, DenseMatrix weight, int width, DenseMatrix bias, DenseMatrix residual,
                DenseMatrix out) {
        if (residual != null && residual != out) {
            kernels.copy(residual, 0, width, out, 0, width, rows, width);
        }
        kernels.gemm(false, false, rows, width, in, 1, x, 0, in, weight, 0, width, residual == null ? 0 : 1, out, 0, width);
        if (bias != null) {
            kernels.addBias(out, rows, width, bias);
        }
    }

    /** Back through {@link #affine}: {@code dW += xᵀ·dy}, {@code dbias += Σ_rows dy} (if any), {@code dx = dy·Wᵀ}. */
    void affineBackward(DenseMatrix x, int rows, int in, DenseMatrix weight, int width, DenseMatrix weightGrad,
                        DenseMatrix biasGrad, DenseMatrix gradY, DenseMatrix gradX) {
        if (biasGrad != null) {
            kernels.addColumnSums(gradY, rows, width, biasGrad);
        }
        kernels.gemm(true, false, in, width, rows, 1, x, 0, in, gradY, 0, width, 1, weightGrad, 0, width);
        kernels.gemm(false, true, rows, in, width, 1, gradY, 0, width, weight, 0, width, 0, gradX, 0, in);
    }
}

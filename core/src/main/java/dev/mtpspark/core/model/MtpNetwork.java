package dev.mtpspark.core.model;

import dev.mtpspark.core.kernels.DenseMatrix;
import dev.mtpspark.core.kernels.Kernels;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * The network over whole windows, forward and backward: token (+ position) embedding, the trunk, then the n heads
 * one at a time (the paper's memory-efficient order: only one head's {@code [rows, V]} logits exist at once), each
 * through the shared final norm and unembedding into its weighted cross-entropy {@code w_k · CE_k}. Training,
 * scoring and the {@code [B, n, T, V]} logits of evaluation all run {@link #run}.
 *
 * <p>Heads: parallel (a block on the trunk output z), linear ({@code z·W + b}) or sequential (DeepSeek-V3: h₁ = z,
 * {@code h_k = block(M_k [norm(h_{k−1}); norm(emb(x_{t+k−1}))])}); a sequential depth's backward waits for the later
 * depths' gradient, so their activations stay until the backward pass runs from the last depth down.
 *
 * <p>One instance per thread: it owns the activation buffers, sized for its last batch.
 */
final class MtpNetwork {
    /** Receives head k's logits {@code [rows, V]} (row b·T + t) before the loss overwrites them. */
    interface LogitsSink {
        void accept(int k, DenseMatrix logits);
    }

    private final NetworkShape shape;
    private final DataType type;
    private final Kernels kernels;
    private final TransformerBlock block;
    private final int d;
    private final int vocab;
    private int rows = -1;
    private TransformerBlock.Activations[] trunk;
    private TransformerBlock.Activations[] heads;    // parallel: one, reused; sequential: one per depth ≥ 2
    private TransformerBlock.Scratch scratch;
    private DenseMatrix embedded;
    private DenseMatrix headInput;
    private DenseMatrix[] lookAhead;                 // sequential: emb(x[t+c]) · mask, c = 1..n−1
    private DenseMatrix linearOut;
    private DenseMatrix finalHat;
    private DenseMatrix finalRstd;
    private DenseMatrix normed;
    private DenseMatrix logits;
    private DenseMatrix gradA;
    private DenseMatrix gradB;
    private DenseMatrix gradHidden;
    private DenseMatrix[] depthGrad;                  // sequential: dL/dh_k; depthGrad[0] is dL/dz
    private Sequential[] depths;

    /** A sequential depth's inputs, kept for its backward pass. */
    private record Sequential(DenseMatrix hiddenHat, DenseMatrix hiddenRstd, DenseMatrix embeddingHat,
                              DenseMatrix embeddingRstd, DenseMatrix normed, DenseMatrix combined, DenseMatrix projected) {
    }

    MtpNetwork(NetworkShape shape, DataType type) {
        this(shape, type, Kernels.forBackend(type, shape.context(), shape.headWidth()));
    }

    /** With the given kernels (tests run both implementations on the CPU). */
    MtpNetwork(NetworkShape shape, DataType type, Kernels kernels) {
        this.shape = shape;
        this.type = type;
        this.kernels = kernels;
        this.block = new TransformerBlock(shape, kernels);
        this.d = shape.width();
        this.vocab = shape.vocab();
    }

    /**
     * Forward (and, with {@code g}, backward) over {@code batch}. Returns the loss: the sum over windows of
     * {@code Σ_k w_k · CE_k}, CE_k the mean over the window's positions (0 without labels or weights).
     *
     * @param g        gradients to add to (zeroed by the caller), or null for a forward pass only
     * @param masks    the dropout masks of {@link NetworkShape#dropoutPoints()}, or null
     * @param weights  the per-horizon loss weights, or null for no loss
     * @param sink     receives every head's logits, or null
     */
    double run(Weights.Model w, Weights.Model g, TokenBatch batch, DenseMatrix[] masks, double[] weights, LogitsSink sink) {
        ensureCapacity(batch.rows());
        int n = shape.horizons();
        kernels.gatherRows(w.tokens(), d, batch.tokens()[0], embedded, 0, d, false);
        if (w.positions() != null) {
            kernels.gatherRows(w.positions(), d, batch.positions(), embedded, 0, d, true);
        }
        DenseMatrix x = embedded;
        for (int i = 0; i < shape.depth(); i++) {
            block.forward(w.trunk()[i], trunk[i], x, mask(masks, i));
            x = trunk[i].out;
        }
        masked(x, mask(masks, shape.depth()), headInput);
        for (int c = 1; c < shape.channels(); c++) {
            kernels.gatherRows(w.tokens(), d, batch.tokens()[c], lookAhead[c - 1], 0, d, false);
            masked(lookAhead[c - 1], mask(masks, shape.depth() + c), lookAhead[c - 1]);
        }
        boolean losses = weights != null && batch.labels() != null;
        double loss = 0;
        DenseMatrix hidden = headInput;
        for (int k = 1; k <= n; k++) {
            hidden = headForward(w, k, hidden);
            kernels.normForward(hidden, rows, d, w.finalNorm().gain(), w.finalNorm().bias(), shape.eps(), finalHat, finalRstd, normed);
            kernels.gemm(false, false, rows, vocab, d, 1, normed, 0, d, w.unembedding(), 0, vocab, 0, logits, 0, vocab);
            if (sink != null) {
                sink.accept(k, logits);
            }
            if (!losses) {
                continue;
            }
            loss += kernels.crossEntropy(logits, rows, vocab, batch.labels()[k - 1], weights[k - 1] / shape.context());
            if (g == null) {
                continue;
            }
            kernels.gemm(true, false, d, vocab, rows, 1, normed, 0, d, logits, 0, vocab, 1, g.unembedding(), 0, vocab);
            kernels.gemm(false, true, rows, d, vocab, 1, logits, 0, vocab, w.unembedding(), 0, vocab, 0, gradA, 0, d);
            kernels.normBackward(gradA, finalHat, finalRstd, rows, d, w.finalNorm().gain(), shape.layerNorm(),
                    g.finalNorm().gain(), g.finalNorm().bias(), gradHidden, false);
            headBackward(w, g, k, gradHidden);
        }
        if (g != null && losses) {
            if (shape.sequential()) {
                sequentialBackward(w, g, batch, masks);
            }
            trunkBackward(w, g, batch, masks);
        }
        return loss;
    }

    /** Every head's logits into {@code out}, laid out {@code [B, n, T, V]} (inference: no dropout, no loss). */
    void logits(Weights.Model w, TokenBatch batch, DenseMatrix out) {
        int n = shape.horizons();
        int t = shape.context();
        run(w, null, batch, null, null, (k, logits) -> {
            for (int b = 0; b < batch.windows(); b++) {
                kernels.copy(logits, b * t * vocab, vocab, out, ((b * n + k - 1) * t) * vocab, vocab, t, vocab);
            }
        });
    }

    /** Head k's hidden state from the trunk output (the heads' input) or, for sequential heads, the previous depth. */
    private DenseMatrix headForward(Weights.Model w, int k, DenseMatrix previous) {
        Weights.Head head = w.heads()[k - 1];
        if (head instanceof Weights.ParallelHead p) {
            block.forward(p.block(), heads[0], headInput, null);
            return heads[0].out;
        }
        if (head instanceof Weights.LinearHead l) {
            block.affine(headInput, rows, d, l.weight(), d, l.bias(), null, linearOut);
            return linearOut;
        }
        if (head == null) {
            return headInput;                      // sequential depth 1 is the trunk itself
        }
        Weights.SequentialHead s = (Weights.SequentialHead) head;
        Sequential c = depths[k - 2];
        kernels.normForward(previous, rows, d, s.hiddenNorm().gain(), s.hiddenNorm().bias(), shape.eps(), c.hiddenHat(), c.hiddenRstd(), c.normed());
        kernels.copy(c.normed(), 0, d, c.combined(), 0, 2 * d, rows, d);
        kernels.normForward(lookAhead[k - 2], rows, d, s.embeddingNorm().gain(), s.embeddingNorm().bias(), shape.eps(),
                c.embeddingHat(), c.embeddingRstd(), c.normed());
        kernels.copy(c.normed(), 0, d, c.combined(), d, 2 * d, rows, d);
        block.affine(c.combined(), rows, 2 * d, s.projection(), d, null, null, c.projected());
        block.forward(s.block(), heads[k - 2], c.projected(), null);
        return heads[k - 2].out;
    }

    /** Back from dL/dh_k of head k's own loss: to dL/dz (parallel, linear) or into the depth gradients (sequential). */
    private void headBackward(Weights.Model w, Weights.Model g, int k, DenseMatrix gradH) {
        Weights.Head head = w.heads()[k - 1];
        DenseMatrix gradZ = depthGrad[0];
        if (head instanceof Weights.ParallelHead p) {
            block.backward(p.block(), ((Weights.ParallelHead) g.heads()[k - 1]).block(), heads[0], scratch, gradH, k == 1 ? gradZ : gradB);
        } else if (head instanceof Weights.LinearHead l) {
            Weights.LinearHead lg = (Weights.LinearHead) g.heads()[k - 1];
            block.affineBackward(headInput, rows, d, l.weight(), d, lg.weight(), lg.bias(), gradH, k == 1 ? gradZ : gradB);
        } else {
            kernels.copy(gradH, 0, d, depthGrad[k - 1], 0, d, rows, d);
            return;
        }
        if (k > 1) {
            kernels.add(gradZ, gradB, rows * d);
        }
    }

    /** Sequential depths from the last down: each adds its gradient to the previous depth's and to the token table. */
    private void sequentialBackward(Weights.Model w, Weights.Model g, TokenBatch batch, DenseMatrix[] masks) {
        for (int k = shape.horizons(); k >= 2; k--) {
            Weights.SequentialHead s = (Weights.SequentialHead) w.heads()[k - 1];
            Weights.SequentialHead sg = (Weights.SequentialHead) g.heads()[k - 1];
            Sequential c = depths[k - 2];
            block.backward(s.block(), sg.block(), heads[k - 2], scratch, depthGrad[k - 1], gradA);
            DenseMatrix gradCombined = scratch.gradQkv;                 // [rows, 2d] fits in the [rows, 3d] scratch
            block.affineBackward(c.combined(), rows, 2 * d, s.projection(), d, sg.projection(), null, gradA, gradCombined);
            kernels.copy(gradCombined, 0, 2 * d, gradA, 0, d, rows, d);
            kernels.normBackward(gradA, c.hiddenHat(), c.hiddenRstd(), rows, d, s.hiddenNorm().gain(), shape.layerNorm(),
                    sg.hiddenNorm().gain(), sg.hiddenNorm().bias(), depthGrad[k - 2], true);
            kernels.copy(gradCombined, d, 2 * d, gradA, 0, d, rows, d);
            kernels.normBackward(gradA, c.embeddingHat(), c.embeddingRstd(), rows, d, s.embeddingNorm().gain(), shape.layerNorm(),
                    sg.embeddingNorm().gain(), sg.embeddingNorm().bias(), gradB, false);
            masked(gradB, mask(masks, shape.depth() + k - 1), gradB);
            kernels.scatterAddRows(gradB, 0, d, batch.tokens()[k - 1], d, g.tokens());
        }
    }

    /** From dL/dz through the heads' dropout and the trunk to the embedding tables. */
    private void trunkBackward(Weights.Model w, Weights.Model g, TokenBatch batch, DenseMatrix[] masks) {
        DenseMatrix upstream = gradA;
        masked(depthGrad[0], mask(masks, shape.depth()), upstream);
        for (int i = shape.depth() - 1; i >= 0; i--) {
            DenseMatrix below = upstream == gradA ? gradB : gradA;
            block.backward(w.trunk()[i], g.trunk()[i], trunk[i], scratch, upstream, below);
            masked(below, mask(masks, i), below);
            upstream = below;
        }
        kernels.scatterAddRows(upstream, 0, d, batch.tokens()[0], d, g.tokens());
        if (g.positions() != null) {
            kernels.scatterAddRows(upstream, 0, d, batch.positions(), d, g.positions());
        }
    }

    private void masked(DenseMatrix x, DenseMatrix mask, DenseMatrix out) {
        if (mask != null) {
            kernels.multiply(x, mask, out, rows * d);
        } else if (x != out) {
            kernels.copy(x, 0, d, out, 0, d, rows, d);
        }
    }

    private static DenseMatrix mask(DenseMatrix[] masks, int point) {
        return masks == null || point >= masks.length ? null : masks[point];
    }

    private void ensureCapacity(int newRows) {
        if (newRows == rows) {
            return;
        }
        rows = newRows;
        int n = shape.horizons();
        trunk = new TransformerBlock.Activations[shape.depth()];
        for (int i = 0; i < trunk.length; i++) {
            trunk[i] = new TransformerBlock.Activations(shape, type, rows);
        }
        int headBlocks = switch (shape.architecture()) {
            case PARALLEL -> 1;
            case SEQUENTIAL -> n - 1;
            case LINEAR -> 0;
        };
        heads = new TransformerBlock.Activations[headBlocks];
        for (int i = 0; i < headBlocks; i++) {
            heads[i] = new TransformerBlock.Activations(shape, type, rows);
        }
        scratch = new TransformerBlock.Scratch(shape, type, rows);
        long rd = (long) rows * d;
        embedded = matrix(rd);
        headInput = matrix(rd);
        linearOut = matrix(rd);
        finalHat = matrix(rd);
        finalRstd = matrix(rows);
        normed = matrix(rd);
        logits = matrix((long) rows * vocab);
        gradA = matrix(rd);
        gradB = matrix(rd);
        gradHidden = matrix(rd);
        depthGrad = new DenseMatrix[shape.sequential() ? n : 1];
        for (int k = 0; k < depthGrad.length; k++) {
            depthGrad[k] = matrix(rd);
        }
        lookAhead = new DenseMatrix[shape.channels() - 1];
        depths = new Sequential[shape.channels() - 1];
        for (int c = 0; c < lookAhead.length; c++) {
            lookAhead[c] = matrix(rd);
            depths[c] = new Sequential(matrix(rd), matrix(rows), matrix(rd), matrix(rows), matrix(rd), matrix(2 * rd), matrix(rd));
        }
    }

    private DenseMatrix matrix(long length) {
        return DenseMatrix.allocate(type, length);
    }
}

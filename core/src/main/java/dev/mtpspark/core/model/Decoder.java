package dev.mtpspark.core.model;

import org.nd4j.linalg.api.buffer.DataType;

import java.util.HashMap;
import java.util.Map;

/**
 * Incremental inference over one sequence with a {@link KvCache}: {@link #prefill} a prompt, {@link #append} one
 * or more tokens in one pass (each new position attends to the cached ones), {@link #truncate} back to a shorter
 * length. Computes only what is asked: the heads this decoder was made for (head 1 for plain generation) and, for
 * {@link #append}, only the last position's logits. Positions run from 0 to the context length T − 1; the caller
 * decides what to keep when the context is full (see {@code TextSampler}). Not thread-safe.
 */
public final class Decoder {
    private final NetworkShape shape;
    private final DataType type;
    private final Weights.Model weights;
    private final Kernels kernels;
    private final TransformerBlock block;
    private final KvCache cache;
    private final int heads;
    private final Map<Integer, Rows> buffers = new HashMap<>();

    /** Buffers for a pass of {@code rows} new positions. */
    private record Rows(TransformerBlock.Activations activations, DenseMatrix embedded, DenseMatrix trunkOut,
                        DenseMatrix linear, DenseMatrix hidden, DenseMatrix hat, DenseMatrix rstd, DenseMatrix normed,
                        DenseMatrix logits) {
    }

    Decoder(NetworkShape shape, DataType type, Weights.Model weights, int heads) {
        if (heads < 1 || heads > shape.horizons()) {
            throw new IllegalArgumentException("heads must be in [1, " + shape.horizons() + "], got " + heads);
        }
        if (heads > 1 && shape.sequential()) {
            throw new UnsupportedOperationException("incremental decoding of sequential heads beyond head 1 is not implemented");
        }
        this.shape = shape;
        this.type = type;
        this.weights = weights;
        this.heads = heads;
        this.kernels = Kernels.forBackend(type, shape.context(), shape.headWidth());
        this.block = new TransformerBlock(shape, kernels);
        this.cache = new KvCache(shape, type);
    }

    /** The most positions the cache holds: the context length T. */
    public int capacity() {
        return shape.context();
    }

    /** Positions cached now. */
    public int length() {
        return cache.length();
    }

    /** Heads whose logits every pass computes (1..n). */
    public int heads() {
        return heads;
    }

    /** Empties the cache and runs {@code tokens} at positions 0..; returns head 1's logits at the last one. */
    public float[] prefill(int[] tokens) {
        cache.truncate(0);
        return append(tokens);
    }

    /** Appends {@code tokens} in one pass; returns head 1's logits {@code [V]} at the last new position. */
    public float[] append(int... tokens) {
        return forward(tokens, true)[0];
    }

    /**
     * Appends {@code tokens} in one pass; returns the logits of every new position r and head k in
     * {@code [r · heads() + k − 1]}.
     */
    public float[][] appendAll(int... tokens) {
        return forward(tokens, false);
    }

    /** Forgets every position from {@code length} on (for example rejected draft tokens). */
    public void truncate(int length) {
        cache.truncate(length);
    }

    private float[][] forward(int[] tokens, boolean lastOnly) {
        int r = tokens.length;
        int cached = cache.length();
        if (r == 0) {
            throw new IllegalArgumentException("append needs at least one token");
        }
        if (cached + r > shape.context()) {
            throw new IllegalStateException("the cache holds " + cached + " of " + shape.context() + " positions; "
                    + r + " more exceed the context length (prefill a shorter context)");
        }
        int[] positions = new int[r];
        for (int i = 0; i < r; i++) {
            if (tokens[i] < 0 || tokens[i] >= shape.vocab()) {
                throw new IllegalArgumentException("token id " + tokens[i] + " at " + i + " is not in [0, " + shape.vocab() + ")");
            }
            positions[i] = cached + i;
        }
        int d = shape.width();
        Rows b = buffers.computeIfAbsent(r, this::allocate);
        kernels.gatherRows(weights.tokens(), d, tokens, b.embedded(), 0, d, false);
        if (weights.positions() != null) {
            kernels.gatherRows(weights.positions(), d, positions, b.embedded(), 0, d, true);
        }
        DenseMatrix x = b.embedded();
        for (int i = 0; i < shape.depth(); i++) {
            block.forwardCached(weights.trunk()[i], b.activations(), x, r, cache.trunk(i), cached);
            x = b.activations().out;
        }
        kernels.copy(x, 0, d, b.trunkOut(), 0, d, r, d);
        int out = lastOnly ? 1 : r;
        float[][] logits = new float[out * heads][];
        for (int k = 1; k <= heads; k++) {
            DenseMatrix h = headHidden(k, b, r, cached);
            kernels.copy(h, lastOnly ? (r - 1) * d : 0, d, b.hidden(), 0, d, out, d);
            Weights.Norm norm = weights.finalNorm();
            kernels.normForward(b.hidden(), out, d, norm.gain(), norm.bias(), shape.eps(), b.hat(), b.rstd(), b.normed());
            int v = shape.vocab();
            kernels.gemm(false, false, out, v, d, 1, b.normed(), 0, d, weights.unembedding(), 0, v, 0, b.logits(), 0, v);
            float[][] rows = b.logits().view(0, v, out, v).toFloatMatrix();
            for (int i = 0; i < out; i++) {
                logits[i * heads + k - 1] = rows[i];
            }
        }
        cache.advance(r);
        return logits;
    }

    private DenseMatrix headHidden(int k, Rows b, int r, int cached) {
        Weights.Head head = weights.heads()[k - 1];
        if (head instanceof Weights.ParallelHead p) {
            block.forwardCached(p.block(), b.activations(), b.trunkOut(), r, cache.head(k), cached);
            return b.activations().out;
        }
        if (head instanceof Weights.LinearHead l) {
            block.affine(b.trunkOut(), r, shape.width(), l.weight(), shape.width(), l.bias(), null, b.linear());
            return b.linear();
        }
        return b.trunkOut();                       // sequential depth 1: the trunk output
    }

    private Rows allocate(int rows) {
        long rd = (long) rows * shape.width();
        return new Rows(new TransformerBlock.Activations(shape, type, rows), matrix(rd), matrix(rd), matrix(rd),
                matrix(rd), matrix(rd), matrix(rows), matrix(rd), matrix((long) rows * shape.vocab()));
    }

    private DenseMatrix matrix(long length) {
        return DenseMatrix.allocate(type, length);
    }
}

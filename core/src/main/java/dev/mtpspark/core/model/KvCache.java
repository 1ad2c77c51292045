package dev.mtpspark.core.model;

import dev.mtpspark.core.kernels.DenseMatrix;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * The keys and values of one sequence's positions for every block that attends: each trunk block and the blocks
 * of heads 1..{@code heads} that have one (parallel heads; sequential depths 2..n). Capacity is the context length
 * T (learned positions stop there, and rotary positions are computed for 0..T−1). The trunk's length is kept
 * here; a head block may lag behind it (the {@link Decoder} brings drafting heads up to date only when it drafts),
 * so each head block has its own length. Truncating is setting lengths back: later rows are overwritten.
 */
final class KvCache {
    /** One block's cache: rows are positions. */
    record Layer(
            DenseMatrix keys,       // [T, d], rotated keys with rotary positions
            DenseMatrix values) {   // [T, d]
    }

    private final Layer[] trunk;
    private final Layer[] heads;          // heads[k − 1]: head k's block, null where head k has none
    private final int[] headLengths;
    private int length;

    KvCache(NetworkShape shape, DataType type, int heads) {
        trunk = new Layer[shape.depth()];
        for (int i = 0; i < trunk.length; i++) {
            trunk[i] = layer(shape, type);
        }
        this.heads = new Layer[heads];
        headLengths = new int[heads];
        for (int k = 1; k <= heads; k++) {
            boolean block = switch (shape.architecture()) {
                case PARALLEL -> true;
                case SEQUENTIAL -> k >= 2;
                case LINEAR -> false;
            };
            this.heads[k - 1] = block ? layer(shape, type) : null;
        }
    }

    private static Layer layer(NetworkShape shape, DataType type) {
        long size = (long) shape.context() * shape.width();
        return new Layer(DenseMatrix.allocate(type, size), DenseMatrix.allocate(type, size));
    }

    Layer trunk(int i) {
        return trunk[i];
    }

    /** Head k's block cache. */
    Layer head(int k) {
        return heads[k - 1];
    }

    /** Positions the trunk has cached. */
    int length() {
        return length;
    }

    void advance(int rows) {
        length += rows;
    }

    /** Rows head k's block has cached (at most {@link #length}). */
    int headLength(int k) {
        return headLengths[k - 1];
    }

    void setHeadLength(int k, int rows) {
        headLengths[k - 1] = rows;
    }

    /** Forgets every trunk position from {@code newLength} on; head blocks keep at most as many rows. */
    void truncate(int newLength) {
        if (newLength < 0 || newLength > length) {
            throw new IllegalArgumentException("cannot truncate a cache of " + length + " positions to " + newLength);
        }
        length = newLength;
        for (int k = 0; k < headLengths.length; k++) {
            headLengths[k] = Math.min(headLengths[k], newLength);
        }
    }
}

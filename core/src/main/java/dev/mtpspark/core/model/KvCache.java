package dev.mtpspark.core.model;

import org.nd4j.linalg.api.buffer.DataType;

/**
 * The keys and values of one sequence's positions for every block that attends: each trunk block and, with
 * parallel heads, each head's block. Capacity is the context length T (learned positions stop there, and rotary
 * positions are computed for 0..T−1). Truncating is setting the length back: later rows are overwritten.
 */
final class KvCache {
    /** One block's cache: rows are positions. */
    record Layer(
            DenseMatrix keys,       // [T, d], rotated keys with rotary positions
            DenseMatrix values) {   // [T, d]
    }

    private final Layer[] trunk;
    private final Layer[] heads;   // parallel heads' blocks; empty for the other architectures
    private int length;

    KvCache(NetworkShape shape, DataType type) {
        trunk = layers(shape, type, shape.depth());
        heads = layers(shape, type, shape.architecture() == dev.mtpspark.core.config.HeadArchitecture.PARALLEL ? shape.horizons() : 0);
    }

    private static Layer[] layers(NetworkShape shape, DataType type, int count) {
        Layer[] layers = new Layer[count];
        long size = (long) shape.context() * shape.width();
        for (int i = 0; i < count; i++) {
            layers[i] = new Layer(DenseMatrix.allocate(type, size), DenseMatrix.allocate(type, size));
        }
        return layers;
    }

    Layer trunk(int i) {
        return trunk[i];
    }

    /** Head k's block cache (parallel heads). */
    Layer head(int k) {
        return heads[k - 1];
    }

    /** Positions cached. */
    int length() {
        return length;
    }

    void advance(int rows) {
        length += rows;
    }

    /** Forgets every position from {@code newLength} on. */
    void truncate(int newLength) {
        if (newLength < 0 || newLength > length) {
            throw new IllegalArgumentException("cannot truncate a cache of " + length + " positions to " + newLength);
        }
        length = newLength;
    }
}

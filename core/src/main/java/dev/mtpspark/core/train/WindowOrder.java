package dev.mtpspark.core.train;

import java.io.Serializable;

/**
 * The order in which training windows are visited: epoch after epoch, each a different pseudo-random
 * permutation of the window indices {@code [0, N)}, determined by the seed alone.
 *
 * <p>A keyed Feistel network over the next even power of two with cycle walking gives a bijection in O(1)
 * memory, so the data position of a run is a single number (windows consumed so far) and a resumed run visits
 * exactly the windows an uninterrupted one would, however large N is.
 */
public final class WindowOrder implements Serializable {
    private static final int ROUNDS = 4;

    private final long windows;
    private final long seed;
    private final int halfBits;
    private final long halfMask;

    public WindowOrder(long windows, long seed) {
        if (windows < 1) {
            throw new IllegalArgumentException("need at least one window, got " + windows);
        }
        this.windows = windows;
        this.seed = seed;
        int bits = Math.max(2, 64 - Long.numberOfLeadingZeros(windows - 1));
        this.halfBits = (bits + 1) / 2;
        this.halfMask = (1L << halfBits) - 1;
    }

    public long windows() {
        return windows;
    }

    /** The window index at a global position (positions continue across epochs). */
    public long windowAt(long position) {
        if (position < 0) {
            throw new IllegalArgumentException("position must be ≥ 0, got " + position);
        }
        long epoch = position / windows;
        long x = position % windows;
        do {
            x = permute(x, epoch);
        } while (x >= windows);
        return x;
    }

    /** The epoch a global position falls in. */
    public long epochOf(long position) {
        return position / windows;
    }

    private long permute(long x, long epoch) {
        long left = (x >>> halfBits) & halfMask;
        long right = x & halfMask;
        for (int r = 0; r < ROUNDS; r++) {
            long next = left ^ (mix(right ^ mix(seed + 0x9E3779B97F4A7C15L * (epoch * ROUNDS + r + 1))) & halfMask);
            left = right;
            right = next;
        }
        return (left << halfBits) | right;
    }

    /** SplitMix64's finaliser: a fast, well-mixing 64-bit hash. */
    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}

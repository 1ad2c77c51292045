package dev.mtpspark.core.data;

/**
 * The merge rank of each pair of ids, for {@link BpeTokenizer}'s encoder: an open-addressing table of primitive keys
 * and values. Encoding looks a rank up for every adjacent pair of every word it has not cached, so this is its inner
 * loop; a {@code HashMap<Long, Integer>} boxed every key, and {@code Long}'s hash of a pair key is {@code left ^ right},
 * which maps the pairs of a large vocabulary onto few buckets (which then turned into trees).
 */
final class PairRanks {
    private static final long EMPTY = -1L;        // no pair key is negative: ids are ≥ 0
    private final long[] keys;
    private final int[] ranks;
    private final int mask;

    /** Ranks {@code 0..merges.length − 1} of the pairs {@code merges[r] = {left, right}}. */
    PairRanks(int[][] merges) {
        int capacity = Integer.highestOneBit(Math.max(4, merges.length * 2 - 1)) << 1;    // load ≤ 1/2
        keys = new long[capacity];
        ranks = new int[capacity];
        mask = capacity - 1;
        java.util.Arrays.fill(keys, EMPTY);
        for (int r = 0; r < merges.length; r++) {
            long key = BpeTokenizer.pairKey(merges[r][0], merges[r][1]);
            int slot = slot(key);
            while (keys[slot] != EMPTY && keys[slot] != key) {
                slot = (slot + 1) & mask;
            }
            keys[slot] = key;
            ranks[slot] = r;                // a pair listed twice keeps its last rank, as a map built from the list would
        }
    }

    /** The rank of the pair, or {@link Integer#MAX_VALUE} when it is never merged. */
    int rank(int left, int right) {
        long key = BpeTokenizer.pairKey(left, right);
        for (int slot = slot(key); ; slot = (slot + 1) & mask) {
            long k = keys[slot];
            if (k == key) {
                return ranks[slot];
            }
            if (k == EMPTY) {
                return Integer.MAX_VALUE;
            }
        }
    }

    /** Fibonacci hashing: the multiply spreads both ids over the high bits, which pick the slot. */
    private int slot(long key) {
        return (int) ((key * 0x9E3779B97F4A7C15L) >>> 40) & mask;
    }
}

package dev.mtpspark.core.data;

import java.util.Arrays;
import java.util.function.IntConsumer;

/**
 * The ids of recently seen pre-tokens, looked up by the characters in the pre-token stream's own buffer, so that a
 * hit makes no String. Keys and ids sit in two flat arrays and the table holds entry numbers with their hashes:
 * a few megabytes per encoding thread instead of a map of Strings and id arrays, whose scattered nodes made the
 * lookup the BPE encoder's largest cost. When full it is emptied and refills with what the text uses now (the
 * frequent pre-tokens are back within a few thousand words). Not thread-safe: one per thread.
 */
final class PreTokenCache {
    /** Longer pre-tokens are encoded every time: they are rare, and would crowd the key array. */
    static final int MAX_KEY_CHARS = 256;

    private final int maxEntries;
    private final int[] table;                  // slot i: [2i] entry + 1 (0: empty), [2i + 1] the key's hash
    private int[] keyStart;
    private int[] idStart;                      // entry e's key is keys[keyStart[e], keyStart[e + 1]), its ids likewise
    private char[] keys = new char[1 << 16];
    private int[] ids = new int[1 << 14];
    private int entries;

    PreTokenCache(int maxEntries) {
        this.maxEntries = maxEntries;
        table = new int[Integer.highestOneBit(Math.max(2, maxEntries)) * 8];
        keyStart = new int[Math.min(maxEntries, 1 << 12) + 1];
        idStart = new int[keyStart.length];
    }

    /** Passes the cached ids of {@code text[start, end)} to {@code sink}; false when it is not cached. */
    boolean emit(char[] text, int start, int end, IntConsumer sink) {
        int hash = hash(text, start, end);
        int mask = table.length - 2;
        for (int slot = (hash << 1) & mask; table[slot] != 0; slot = (slot + 2) & mask) {
            if (table[slot + 1] == hash) {
                int e = table[slot] - 1;
                int k = keyStart[e];
                if (keyStart[e + 1] - k == end - start && sameChars(keys, k, text, start, end)) {
                    for (int i = idStart[e]; i < idStart[e + 1]; i++) {
                        sink.accept(ids[i]);
                    }
                    return true;
                }
            }
        }
        return false;
    }

    /** Caches the ids of {@code text[start, end)}, which must not be cached yet. */
    void put(char[] text, int start, int end, int[] tokenIds) {
        int length = end - start;
        if (length > MAX_KEY_CHARS) {
            return;
        }
        if (entries == maxEntries) {
            Arrays.fill(table, 0);
            entries = 0;
        }
        if (entries + 2 > keyStart.length) {
            keyStart = Arrays.copyOf(keyStart, Math.min(maxEntries + 1, keyStart.length * 2));
            idStart = Arrays.copyOf(idStart, keyStart.length);
        }
        int k = keyStart[entries];
        int v = idStart[entries];
        if (k + length > keys.length) {
            keys = Arrays.copyOf(keys, Math.max(keys.length * 2, k + length));
        }
        if (v + tokenIds.length > ids.length) {
            ids = Arrays.copyOf(ids, Math.max(ids.length * 2, v + tokenIds.length));
        }
        System.arraycopy(text, start, keys, k, length);
        System.arraycopy(tokenIds, 0, ids, v, tokenIds.length);
        keyStart[entries + 1] = k + length;
        idStart[entries + 1] = v + tokenIds.length;
        int hash = hash(text, start, end);
        int mask = table.length - 2;
        int slot = (hash << 1) & mask;
        while (table[slot] != 0) {
            slot = (slot + 2) & mask;
        }
        table[slot] = entries + 1;
        table[slot + 1] = hash;
        entries++;
    }

    int size() {
        return entries;
    }

    /** A plain loop: pre-tokens are a few characters, too short for the vectorized comparison to pay. */
    private static boolean sameChars(char[] keys, int k, char[] text, int start, int end) {
        for (int i = start; i < end; i++, k++) {
            if (keys[k] != text[i]) {
                return false;
            }
        }
        return true;
    }

    private static int hash(char[] text, int start, int end) {
        int h = 0;
        for (int i = start; i < end; i++) {
            h = 31 * h + text[i];
        }
        h ^= h >>> 16;                              // MurmurHash3's finalizer: the table uses the low bits
        h *= 0x85EBCA6B;
        h ^= h >>> 13;
        h *= 0xC2B2AE35;
        return h ^ (h >>> 16);
    }
}

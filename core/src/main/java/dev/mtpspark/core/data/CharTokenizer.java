package dev.mtpspark.core.data;

import java.util.Arrays;
import java.util.function.IntConsumer;

/**
 * Character-level tokenizer over a vocabulary of Unicode code points built from a corpus, ids in code-point
 * order (nanoGPT's {@code sorted(set(text))}: 65 symbols on tiny Shakespeare). An {@code <eos>} id follows
 * the characters when the corpus has more than one document. Malformed UTF-8 decodes to U+FFFD (counted);
 * characters outside the vocabulary are dropped and counted.
 */
public final class CharTokenizer implements Tokenizer {
    private final int[] codePoints;
    private final boolean withEos;

    /** @param codePoints the vocabulary, any order, no duplicates */
    public CharTokenizer(int[] codePoints, boolean withEos) {
        int[] sorted = codePoints.clone();
        Arrays.sort(sorted);
        for (int i = 1; i < sorted.length; i++) {
            if (sorted[i] == sorted[i - 1]) {
                throw new IllegalArgumentException("duplicate code point U+" + Integer.toHexString(sorted[i]) + " in the vocabulary");
            }
        }
        if (sorted.length == 0) {
            throw new IllegalArgumentException("a character vocabulary needs at least one character");
        }
        this.codePoints = sorted;
        this.withEos = withEos;
    }

    /** The distinct code points of UTF-8 {@code text} (malformed sequences count as U+FFFD). */
    public static int[] codePointsOf(byte[] text) {
        java.util.BitSet seen = new java.util.BitSet();
        Tokenizer.Encoder collector = codePointCollector(seen);
        collector.write(text, 0, text.length);
        collector.finish();
        return seen.stream().toArray();
    }

    /**
     * A streaming collector of the code points of UTF-8 documents (malformed sequences count as U+FFFD), for
     * building the vocabulary from a corpus in bounded memory.
     */
    public static Tokenizer.Encoder codePointCollector(java.util.BitSet seen) {
        return new CodePointEncoder(seen::set, () -> { });
    }

    /** Code points below this (ASCII, Latin, Greek, Cyrillic, Hebrew, Arabic…) find their id in a table. */
    private static final int SMALL = 0x800;

    private transient volatile int[] smallIds;     // volatile: a thread sees the table only once it is filled

    /** The id of each code point below {@link #SMALL}, or −1: a lookup instead of a binary search per character. */
    private int[] smallIds() {
        if (smallIds == null) {
            int[] ids = new int[SMALL];
            Arrays.fill(ids, -1);
            for (int id = 0; id < codePoints.length && codePoints[id] < SMALL; id++) {
                ids[codePoints[id]] = id;
            }
            smallIds = ids;
        }
        return smallIds;
    }

    public int[] codePoints() {
        return codePoints.clone();
    }

    @Override
    public String type() {
        return "char";
    }

    @Override
    public int vocabSize() {
        return codePoints.length + (withEos ? 1 : 0);
    }

    @Override
    public int eosId() {
        return withEos ? codePoints.length : -1;
    }

    @Override
    public Encoder newEncoder(IntConsumer sink) {
        long[] unknown = new long[1];
        int[] small = smallIds();
        return new CodePointEncoder(cp -> {
            int id = cp < SMALL ? small[cp] : Arrays.binarySearch(codePoints, cp);
            if (id >= 0) {
                sink.accept(id);
            } else {
                unknown[0]++;
            }
        }, () -> { }) {
            @Override
            public long unknownCharacters() {
                return unknown[0];
            }
        };
    }

    @Override
    public String decode(int[] ids) {
        StringBuilder sb = new StringBuilder(ids.length);
        for (int id : ids) {
            if (id >= 0 && id < codePoints.length) {
                sb.appendCodePoint(codePoints[id]);
            } else if (withEos && id == codePoints.length) {
                sb.append("<eos>");
            } else {
                throw new IllegalArgumentException("id " + id + " outside [0, " + vocabSize() + ")");
            }
        }
        return sb.toString();
    }
}

package dev.mtpspark.core.data;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The steps of byte-level BPE training, shared by the single-machine trainer here and the distributed one
 * in the Spark job: count adjacent pairs over weighted words, pick the most frequent pair (ties: smallest
 * left id, then smallest right id — deterministic), apply the merge to every word.
 */
public final class BpeTrainer {
    private BpeTrainer() {
    }

    /** A pre-token as current symbols, with its corpus frequency. */
    public record Word(int[] symbols, long count) implements Serializable {
        public static Word of(String preToken, long count) {
            byte[] bytes = preToken.getBytes(java.nio.charset.StandardCharsets.UTF_8);
            int[] s = new int[bytes.length];
            for (int i = 0; i < bytes.length; i++) {
                s[i] = bytes[i] & 0xFF;
            }
            return new Word(s, count);
        }
    }

    /** Adds the weighted adjacent-pair counts of {@code words} to {@code counts}. */
    public static Map<Long, Long> countPairs(Iterable<Word> words, Map<Long, Long> counts) {
        for (Word w : words) {
            int[] s = w.symbols();
            for (int i = 0; i + 1 < s.length; i++) {
                counts.merge(BpeTokenizer.pairKey(s[i], s[i + 1]), w.count(), Long::sum);
            }
        }
        return counts;
    }

    /** The winning pair key of a count map, or −1 when it is empty. */
    public static long bestPair(Map<Long, Long> counts) {
        long best = -1;
        long bestCount = 0;
        for (Map.Entry<Long, Long> e : counts.entrySet()) {
            long key = e.getKey();
            long c = e.getValue();
            if (c > bestCount || (c == bestCount && Long.compareUnsigned(key, best) < 0)) {
                best = key;
                bestCount = c;
            }
        }
        return best;
    }

    public static int left(long pairKey) {
        return (int) (pairKey >>> 32);
    }

    public static int right(long pairKey) {
        return (int) pairKey;
    }

    /** The word with every non-overlapping occurrence (left to right) of the pair replaced by {@code newId}. */
    public static Word merge(Word w, int left, int right, int newId) {
        int[] s = w.symbols().clone();
        int length = mergeInPlace(s, s.length, left, right, newId);
        return length == s.length ? w : new Word(java.util.Arrays.copyOf(s, length), w.count());
    }

    /** Merges in place within {@code s[0..length)}; returns the new length. */
    static int mergeInPlace(int[] s, int length, int left, int right, int newId) {
        int out = 0;
        for (int i = 0; i < length; i++) {
            if (i + 1 < length && s[i] == left && s[i + 1] == right) {
                s[out++] = newId;
                i++;
            } else {
                s[out++] = s[i];
            }
        }
        return out;
    }

    /**
     * Trains on one machine until {@code vocabSize} (256 bytes + merges + {@code <|endoftext|>}) is reached or no
     * pair occurs twice.
     */
    public static BpeTokenizer train(Map<String, Long> preTokenCounts, int vocabSize) {
        List<Word> words = new ArrayList<>();
        preTokenCounts.entrySet().stream().sorted(Map.Entry.comparingByKey())
                .forEach(e -> words.add(Word.of(e.getKey(), e.getValue())));
        List<int[]> merges = new ArrayList<>();
        while (256 + merges.size() + 1 < vocabSize) {
            Map<Long, Long> counts = countPairs(words, new HashMap<>());
            long best = bestPair(counts);
            if (best < 0 || counts.get(best) < 2) {
                break;
            }
            int newId = 256 + merges.size();
            merges.add(new int[] {left(best), right(best)});
            words.replaceAll(w -> merge(w, left(best), right(best), newId));
        }
        return new BpeTokenizer(merges.toArray(new int[0][]));
    }

    /** Pre-token frequencies of a text. */
    public static Map<String, Long> preTokenCounts(String text) {
        Map<String, Long> counts = new HashMap<>();
        PreTokenStream stream = new PreTokenStream(t -> counts.merge(t, 1L, Long::sum));
        stream.append(text);
        stream.finish();
        return counts;
    }

    /**
     * A streaming encoder-like counter: feeds UTF-8 bytes of one document (malformed sequences become U+FFFD,
     * as in the tokenizer) and adds its pre-tokens to {@code counts}.
     */
    public static Tokenizer.Encoder preTokenCounter(Map<String, Long> counts) {
        PreTokenStream stream = new PreTokenStream(t -> counts.merge(t, 1L, Long::sum));
        return new CodePointEncoder(stream::append, stream::finish);
    }
}

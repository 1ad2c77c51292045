package dev.mtpspark.core.data;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Byte-level BPE training on a table of pre-token counts (the Spark job counts them on the executors and trains
 * here, on the driver): the most frequent adjacent pair is merged first (ties: smallest left id, then smallest
 * right id — deterministic), with incrementally maintained pair counts. The plain helpers ({@link #countPairs},
 * {@link #bestPair}, {@link #merge}) state the rule one merge at a time; the tests' naive trainer is built from them.
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

    /** {@link #train(Map, int, int, Progress)} with no minimum frequency beyond 2 and no progress reports. */
    public static BpeTokenizer train(Map<String, Long> preTokenCounts, int vocabSize) {
        return train(preTokenCounts, vocabSize, 2, null);
    }

    /** Receives the number of merges done and the target, at most every few seconds. */
    @FunctionalInterface
    public interface Progress {
        void report(int merges, int target);
    }

    /**
     * Trains until {@code vocabSize} (256 bytes + merges + {@code <|endoftext|>}) is reached or no pair occurs
     * {@code minFrequency} (at least 2) times, as the established trainers do: pair counts are kept up to date
     * incrementally, each pair indexed to the words that hold it, the next merge taken from a priority queue, and
     * only the words holding the merged pair are rewritten. Ties: the smallest left id, then the smallest right id.
     */
    public static BpeTokenizer train(Map<String, Long> preTokenCounts, int vocabSize, int minFrequency, Progress progress) {
        List<Map.Entry<String, Long>> sorted = new ArrayList<>(preTokenCounts.entrySet());
        sorted.sort(Map.Entry.comparingByKey());
        int[][] symbols = new int[sorted.size()][];
        int[] lengths = new int[sorted.size()];
        long[] counts = new long[sorted.size()];
        Map<Long, Pair> pairs = new HashMap<>();
        for (int w = 0; w < symbols.length; w++) {
            Word word = Word.of(sorted.get(w).getKey(), sorted.get(w).getValue());
            symbols[w] = word.symbols();
            lengths[w] = symbols[w].length;
            counts[w] = word.count();
            for (int i = 0; i + 1 < lengths[w]; i++) {
                Pair p = pairs.computeIfAbsent(BpeTokenizer.pairKey(symbols[w][i], symbols[w][i + 1]), Pair::new);
                p.count += counts[w];
                p.add(w);
            }
        }
        java.util.PriorityQueue<long[]> queue = new java.util.PriorityQueue<>(BpeTrainer::compareCandidates);
        pairs.forEach((k, p) -> queue.add(new long[] {p.count, k}));
        int[] seen = new int[symbols.length];
        java.util.Arrays.fill(seen, -1);
        List<int[]> merges = new ArrayList<>();
        int target = Math.max(0, vocabSize - 257);
        long lastReport = System.nanoTime();
        int floor = Math.max(2, minFrequency);
        while (merges.size() < target) {
            long[] top = queue.poll();
            if (top == null) {
                break;
            }
            Pair best = pairs.get(top[1]);
            if (best == null || best.count != top[0]) {
                continue;                                  // a stale entry: the pair's count has changed since
            }
            if (best.count < floor) {
                break;
            }
            int left = left(best.key);
            int right = right(best.key);
            int newId = 256 + merges.size();
            merges.add(new int[] {left, right});
            Map<Long, Long> before = new HashMap<>();
            for (int j = 0; j < best.size; j++) {
                int w = best.words[j];
                if (seen[w] == merges.size()) {
                    continue;
                }
                seen[w] = merges.size();
                int[] s = symbols[w];
                int length = lengths[w];
                boolean holds = false;
                for (int i = 0; i + 1 < length && !holds; i++) {
                    holds = s[i] == left && s[i + 1] == right;
                }
                if (!holds) {
                    continue;
                }
                for (int i = 0; i + 1 < length; i++) {
                    adjust(pairs, before, BpeTokenizer.pairKey(s[i], s[i + 1]), -counts[w], -1);
                }
                lengths[w] = length = mergeInPlace(s, length, left, right, newId);
                for (int i = 0; i + 1 < length; i++) {
                    adjust(pairs, before, BpeTokenizer.pairKey(s[i], s[i + 1]), counts[w], w);
                }
            }
            for (Map.Entry<Long, Long> e : before.entrySet()) {
                Pair p = pairs.get(e.getKey());
                if (p.count != e.getValue() && p.count > 0) {
                    queue.add(new long[] {p.count, p.key});
                }
                if (p.count == 0) {
                    pairs.remove(p.key);
                }
            }
            if (progress != null && System.nanoTime() - lastReport > 5_000_000_000L) {
                progress.report(merges.size(), target);
                lastReport = System.nanoTime();
            }
        }
        if (progress != null) {
            progress.report(merges.size(), target);
        }
        return new BpeTokenizer(merges.toArray(new int[0][]));
    }

    /** A pair's total count and the words that hold (or held) it; stale word entries are skipped when merging. */
    private static final class Pair {
        final long key;
        long count;
        int[] words = new int[2];
        int size;

        Pair(long key) {
            this.key = key;
        }

        void add(int word) {
            if (size > 0 && words[size - 1] == word) {
                return;
            }
            if (size == words.length) {
                words = java.util.Arrays.copyOf(words, size * 2);
            }
            words[size++] = word;
        }
    }

    private static void adjust(Map<Long, Pair> pairs, Map<Long, Long> before, long key, long delta, int word) {
        Pair p = pairs.computeIfAbsent(key, Pair::new);
        before.putIfAbsent(key, p.count);
        p.count += delta;
        if (word >= 0) {
            p.add(word);
        }
    }

    /** Higher count first; equal counts: the smaller pair key (left id, then right id). */
    private static int compareCandidates(long[] a, long[] b) {
        int byCount = Long.compare(b[0], a[0]);
        return byCount != 0 ? byCount : Long.compareUnsigned(a[1], b[1]);
    }

    /** Pre-token frequencies of a text ({@code <|endoftext|>} in it is a boundary, not counted). */
    public static Map<String, Long> preTokenCounts(String text) {
        Map<String, Long> counts = new HashMap<>();
        Tokenizer.Encoder counter = preTokenCounter(counts, List.of());
        byte[] bytes = text.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        counter.write(bytes, 0, bytes.length);
        counter.finish();
        return counts;
    }

    /** {@link #preTokenCounter(Map, List)} without special tokens. */
    public static Tokenizer.Encoder preTokenCounter(Map<String, Long> counts) {
        return preTokenCounter(counts, List.of());
    }

    /**
     * A streaming encoder-like counter: feeds UTF-8 bytes of one document (malformed sequences become U+FFFD,
     * as in the tokenizer) and adds its pre-tokens to {@code counts}. Occurrences of {@code <|endoftext|>} and of
     * the special tokens split the text and are not counted, as the tokenizer will encode them whole.
     */
    public static Tokenizer.Encoder preTokenCounter(Map<String, Long> counts, List<String> specialTokens) {
        PreTokenStream stream = new PreTokenStream((text, start, end) ->
                counts.merge(new String(text, start, end - start), 1L, Long::sum));
        AddedTokenSplitter splitter = new AddedTokenSplitter(BpeTokenizer.addedTokens(specialTokens), 0, stream::append,
                stream::finish, id -> { });
        return new CodePointEncoder(splitter::append, splitter::finish);
    }
}

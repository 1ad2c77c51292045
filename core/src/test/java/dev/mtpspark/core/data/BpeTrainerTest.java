package dev.mtpspark.core.data;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The incremental trainer gives exactly the merges of the naive one (recount every pair, merge every word, per
 * merge; written here from {@link BpeTrainer}'s one-merge rules), including overlapping pairs, ties and the stop
 * when no pair occurs twice; a minimum frequency stops earlier.
 */
class BpeTrainerTest {
    /** The oracle: the whole table recounted for every merge. */
    static BpeTokenizer naive(Map<String, Long> preTokenCounts, int vocabSize, int minFrequency) {
        List<BpeTrainer.Word> words = new ArrayList<>();
        preTokenCounts.entrySet().stream().sorted(Map.Entry.comparingByKey())
                .forEach(e -> words.add(BpeTrainer.Word.of(e.getKey(), e.getValue())));
        List<int[]> merges = new ArrayList<>();
        while (256 + merges.size() + 1 < vocabSize) {
            Map<Long, Long> counts = BpeTrainer.countPairs(words, new HashMap<>());
            long best = BpeTrainer.bestPair(counts);
            if (best < 0 || counts.get(best) < Math.max(2, minFrequency)) {
                break;
            }
            int newId = 256 + merges.size();
            merges.add(new int[] {BpeTrainer.left(best), BpeTrainer.right(best)});
            words.replaceAll(w -> BpeTrainer.merge(w, BpeTrainer.left(best), BpeTrainer.right(best), newId));
        }
        return new BpeTokenizer(merges.toArray(new int[0][]));
    }

    @Test
    void equalsTheNaiveTrainerOnEnglish() throws Exception {
        byte[] all = SharedCorpora.tinyShakespeareBytes();
        Map<String, Long> counts = BpeTrainer.preTokenCounts(new String(all, 0, 150_000, StandardCharsets.UTF_8));
        assertEquals(naive(counts, 700, 2).toHuggingFaceJson(), BpeTrainer.train(counts, 700).toHuggingFaceJson());
        assertEquals(naive(counts, 700, 40).toHuggingFaceJson(), BpeTrainer.train(counts, 700, 40, null).toHuggingFaceJson());
        assertTrue(BpeTrainer.train(counts, 700, 40, null).vocabSize() < 700, "min-frequency 40 stops before the target");
    }

    @Test
    void equalsTheNaiveTrainerOnRepetitiveAndTiedInput() {
        Random r = new Random(4);
        for (int round = 0; round < 20; round++) {
            Map<String, Long> counts = new HashMap<>();
            for (int w = 0; w < 60; w++) {
                StringBuilder b = new StringBuilder(" ");
                int length = 1 + r.nextInt(9);
                for (int i = 0; i < length; i++) {
                    b.append("aab".charAt(r.nextInt(3)));               // runs like "aaaa": overlapping pairs
                }
                counts.merge(b.toString(), (long) (1 + r.nextInt(3)), Long::sum);   // many equal counts: ties
            }
            assertEquals(naive(counts, 320, 2).toHuggingFaceJson(), BpeTrainer.train(counts, 320).toHuggingFaceJson(), "round " + round);
        }
    }

    @Test
    void reportsProgressAndStopsWhenNoPairOccursTwice() {
        List<int[]> reports = new ArrayList<>();
        BpeTokenizer t = BpeTrainer.train(Map.of("abc", 1L, "abd", 1L), 300, 2, (done, target) -> reports.add(new int[] {done, target}));
        assertEquals(258, t.vocabSize(), "one merge (a b), then no pair occurs twice");
        assertEquals(1, reports.get(reports.size() - 1)[0]);
        assertEquals(43, reports.get(reports.size() - 1)[1]);
    }
}

package dev.mtpspark.spark.tokenize;

import dev.mtpspark.core.data.BpeTokenizer;
import dev.mtpspark.core.data.BpeTrainer;
import org.apache.spark.api.java.JavaPairRDD;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.HashMap;
import java.util.Map;

/**
 * BPE training as the established trainers do it: the pre-token table (distinct pre-tokens and their counts,
 * counted on the executors) comes to the driver, which runs the merges with incremental pair counts
 * ({@link BpeTrainer#train(Map, int, int, BpeTrainer.Progress)}). A table with more than {@link #MAX_PRE_TOKENS}
 * entries is pruned first: pre-tokens seen fewer times than the smallest count that brings it under the limit are
 * dropped (they could not win many merges), and the log says how many, with the threshold.
 */
final class BpeTableTrainer {
    private static final Logger LOG = LoggerFactory.getLogger(BpeTableTrainer.class);
    /** Distinct pre-tokens kept on the driver: about 0.5 GB of table and pair index at most. */
    static final long MAX_PRE_TOKENS = 4_000_000;

    private BpeTableTrainer() {
    }

    static BpeTokenizer train(JavaPairRDD<String, Long> preTokenCounts, int vocabSize, int minFrequency) {
        return train(preTokenCounts, vocabSize, minFrequency, MAX_PRE_TOKENS);
    }

    static BpeTokenizer train(JavaPairRDD<String, Long> preTokenCounts, int vocabSize, int minFrequency, long maxPreTokens) {
        long distinct = preTokenCounts.count();
        JavaPairRDD<String, Long> kept = preTokenCounts;
        if (distinct > maxPreTokens) {
            long threshold = threshold(preTokenCounts, maxPreTokens);
            kept = preTokenCounts.filter(e -> e._2() >= threshold);
            long left = kept.count();
            LOG.info("BPE: {} distinct pre-tokens exceed the driver's table limit of {}; dropping those seen fewer than {} "
                    + "times leaves {}", distinct, maxPreTokens, threshold, left);
        }
        Map<String, Long> table = new HashMap<>(kept.collectAsMap());
        long occurrences = table.values().stream().mapToLong(Long::longValue).sum();
        LOG.info("BPE: training {} merges on the driver from {} distinct pre-tokens ({} occurrences), min-frequency {}",
                vocabSize - 257, table.size(), occurrences, minFrequency);
        long start = System.nanoTime();
        BpeTokenizer t = BpeTrainer.train(table, vocabSize, minFrequency, (done, target) -> {
            double seconds = (System.nanoTime() - start) / 1e9;
            double rate = done / Math.max(seconds, 1e-9);
            LOG.info(String.format(java.util.Locale.ROOT, "BPE: %d/%d merges, %.0f merges/s, %.0f s, ETA %.0f s", done, target,
                    rate, seconds, rate > 0 ? (target - done) / rate : 0));
        });
        if (t.vocabSize() < vocabSize) {
            LOG.info("BPE: no pair occurs {} times after {} merges; the vocabulary stops at {}", Math.max(2, minFrequency),
                    t.vocabSize() - 257, t.vocabSize());
        }
        return t;
    }

    /** The smallest count c such that at most {@code max} pre-tokens are seen c times or more. */
    private static long threshold(JavaPairRDD<String, Long> counts, long max) {
        Map<Long, Long> histogram = counts.map(e -> Math.min(e._2(), 1L << 20)).countByValue();
        long above = 0;
        long c = 1L << 20;
        for (; c > 1; c--) {
            long atC = histogram.getOrDefault(c, 0L);
            if (above + atC > max) {
                return c + 1;
            }
            above += atC;
        }
        return 2;
    }
}

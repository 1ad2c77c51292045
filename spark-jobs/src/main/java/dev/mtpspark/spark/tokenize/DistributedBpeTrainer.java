package dev.mtpspark.spark.tokenize;

import dev.mtpspark.core.data.BpeTokenizer;
import dev.mtpspark.core.data.BpeTrainer;
import dev.mtpspark.core.data.BpeTrainer.Word;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.storage.StorageLevel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import scala.Tuple2;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Byte-level BPE training with distributed pair counting: the corpus's pre-tokens live in an RDD of weighted
 * words; every round counts adjacent pairs on the executors ({@code reduceByKey}), the driver picks the most
 * frequent pair (ties: smallest ids — deterministic), and the executors apply the merge.
 */
final class DistributedBpeTrainer {
    private static final Logger LOG = LoggerFactory.getLogger(DistributedBpeTrainer.class);
    private static final int CHECKPOINT_EVERY = 20;

    private DistributedBpeTrainer() {
    }

    static BpeTokenizer train(JavaPairRDD<String, Long> preTokenCounts, int vocabSize) {
        JavaRDD<Word> words = preTokenCounts.map(e -> Word.of(e._1(), e._2())).persist(StorageLevel.MEMORY_AND_DISK());
        List<int[]> merges = new ArrayList<>();
        long started = System.nanoTime();
        int target = vocabSize - 257;
        JavaRDD<Word> stale = null;
        while (merges.size() < target) {
            Tuple2<Long, Long> best = words
                    .mapPartitionsToPair(it -> {
                        List<Word> part = new ArrayList<>();
                        it.forEachRemaining(part::add);
                        Map<Long, Long> counts = BpeTrainer.countPairs(part, new HashMap<>());
                        List<Tuple2<Long, Long>> out = new ArrayList<>(counts.size());
                        counts.forEach((k, v) -> out.add(new Tuple2<>(k, v)));
                        return out.iterator();
                    })
                    .reduceByKey(Long::sum)
                    .fold(new Tuple2<>(-1L, 0L), DistributedBpeTrainer::better);
            if (stale != null) {
                stale.unpersist(false);             // only now: the count above has materialised its successor
            }
            if (best._1() < 0 || best._2() < 2) {
                LOG.info("BPE: no pair occurs twice after {} merges; vocabulary stops at {}", merges.size(), 257 + merges.size());
                break;
            }
            int left = BpeTrainer.left(best._1());
            int right = BpeTrainer.right(best._1());
            int newId = 256 + merges.size();
            merges.add(new int[] {left, right});
            stale = words;
            words = words.map(w -> BpeTrainer.merge(w, left, right, newId)).persist(StorageLevel.MEMORY_AND_DISK());
            if (merges.size() % CHECKPOINT_EVERY == 0) {
                words = JavaRDD.fromRDD(words.rdd().localCheckpoint(), words.classTag());   // keeps the lineage short
                words.count();
                LOG.info("BPE: {}/{} merges, {} s", merges.size(), target, (System.nanoTime() - started) / 1_000_000_000);
            }
        }
        words.unpersist(false);
        if (stale != null) {
            stale.unpersist(false);
        }
        return new BpeTokenizer(merges.toArray(new int[0][]));
    }

    /** The more frequent pair; equal counts: the smaller key (left id, then right id). */
    static Tuple2<Long, Long> better(Tuple2<Long, Long> a, Tuple2<Long, Long> b) {
        if (a._1() < 0) {
            return b;
        }
        if (b._1() < 0) {
            return a;
        }
        int c = Long.compare(a._2(), b._2());
        if (c != 0) {
            return c > 0 ? a : b;
        }
        return Long.compareUnsigned(a._1(), b._1()) <= 0 ? a : b;
    }
}

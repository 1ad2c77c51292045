package dev.mtpspark.spark.tokenize;

import dev.mtpspark.core.data.BpeTrainer;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import scala.Tuple2;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The driver-side BPE of a pre-token RDD: the core trainer's merges, and the pruning of a table over the limit. */
class BpeTableTrainerTest {
    private static SparkSession spark;

    @BeforeAll
    static void start() {
        spark = SparkSession.builder().master("local[2]").appName("bpe-table").config("spark.ui.enabled", "false").getOrCreate();
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    @Test
    void trainsTheCoreTrainersMergesAndPrunesRarePreTokensOverTheLimit() {
        Random r = new Random(2);
        Map<String, Long> table = new HashMap<>();
        for (int i = 0; i < 3000; i++) {
            table.merge(" w" + Integer.toString(r.nextInt(400), 7), (long) (1 + r.nextInt(6)), Long::sum);
        }
        List<Tuple2<String, Long>> pairs = new ArrayList<>();
        table.forEach((k, v) -> pairs.add(new Tuple2<>(k, v)));
        JavaPairRDD<String, Long> rdd = JavaSparkContext.fromSparkContext(spark.sparkContext()).parallelizePairs(pairs, 3);
        assertEquals(BpeTrainer.train(table, 330, 3, null).toHuggingFaceJson(),
                BpeTableTrainer.train(rdd, 330, 3).toHuggingFaceJson());

        long limit = table.size() / 3;
        long t = thresholdOf(table, limit);
        Map<String, Long> pruned = new HashMap<>();
        table.forEach((k, v) -> {
            if (v >= t) {
                pruned.put(k, v);
            }
        });
        assertEquals(true, pruned.size() <= limit && pruned.size() > 0);
        assertEquals(BpeTrainer.train(pruned, 330, 2, null).toHuggingFaceJson(),
                BpeTableTrainer.train(rdd, 330, 2, limit).toHuggingFaceJson());
    }

    /** Independently: the smallest count c with at most {@code limit} pre-tokens counted c times or more. */
    private static long thresholdOf(Map<String, Long> table, long limit) {
        for (long c = 2; ; c++) {
            final long cc = c;
            if (table.values().stream().filter(v -> v >= cc).count() <= limit) {
                return c;
            }
        }
    }
}

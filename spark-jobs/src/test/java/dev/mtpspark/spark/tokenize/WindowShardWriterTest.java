package dev.mtpspark.spark.tokenize;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Shards roll over at their target size; every window is read back once, in order, from the shards together. */
class WindowShardWriterTest {
    @TempDir
    java.nio.file.Path dir;

    @Test
    void rollsOverAtTheTargetSizeAndLosesNoWindow() throws Exception {
        try (WindowShardWriter w = new WindowShardWriter(new Path(dir.toString()), "train", 3, 0, new Configuration(), 4000)) {
            for (int i = 0; i < 2000; i++) {
                int[] window = new int[20];
                for (int j = 0; j < window.length; j++) {
                    window[j] = (i * 31 + j * 7) % 1000;
                }
                window[0] = i;
                w.write(window);
            }
        }
        List<String> names;
        try (Stream<java.nio.file.Path> files = Files.list(dir.resolve("split=train"))) {
            names = files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".parquet")).sorted().toList();
        }
        assertTrue(names.size() >= 3, "several shards: " + names);
        assertTrue(names.contains("part-00003.parquet"), names.toString());
        assertTrue(names.contains("part-00003-1.parquet"), names.toString());
        try (Stream<java.nio.file.Path> files = Files.list(dir.resolve("split=train"))) {
            assertEquals(List.of(), files.map(p -> p.getFileName().toString()).filter(n -> n.contains("attempt")).toList());
        }
        SparkSession spark = SparkSession.builder().master("local[1]").appName("shards").config("spark.ui.enabled", "false").getOrCreate();
        try {
            List<Row> rows = TokenizedDataset.windows(spark, dir.toString(), "train").select("tokens").collectAsList();
            assertEquals(2000, rows.size());
            long[] firsts = rows.stream().mapToLong(r -> r.getList(0).get(0) instanceof Integer v ? v : -1).sorted().toArray();
            for (int i = 0; i < 2000; i++) {
                assertEquals(i, firsts[i]);
            }
        } finally {
            spark.stop();
        }
    }
}

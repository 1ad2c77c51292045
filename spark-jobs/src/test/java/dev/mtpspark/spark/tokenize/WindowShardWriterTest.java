package dev.mtpspark.spark.tokenize;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.parquet.hadoop.ParquetFileReader;
import org.apache.parquet.hadoop.util.HadoopInputFile;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Shards roll over at their target size and hold several row groups; Spark reads every window back once, with every id
 * as written.
 */
class WindowShardWriterTest {
    @TempDir
    java.nio.file.Path dir;

    private static int[] window(int i) {
        int[] window = new int[20];
        for (int j = 0; j < window.length; j++) {
            window[j] = (i * 31 + j * 7) % 1000 + (j == 5 ? 1 << 30 : 0);    // one id far from its neighbours
        }
        window[0] = i;
        return window;
    }

    @Test
    void rollsOverAtTheTargetSizeAndLosesNoWindow() throws Exception {
        try (WindowShardWriter w = new WindowShardWriter(new Path(dir.toString()), "train", 3, 0, new Configuration(),
                40_000, 8_000)) {
            for (int i = 0; i < 20_000; i++) {
                w.write(window(i));
            }
        }
        List<String> names;
        try (Stream<java.nio.file.Path> files = Files.list(dir.resolve("split=train"))) {
            names = files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".parquet")).sorted().toList();
        }
        assertTrue(names.size() >= 3, "several shards: " + names);
        assertTrue(names.contains("part-00003.parquet"), names.toString());
        assertTrue(names.contains("part-00003-1.parquet"), names.toString());
        try (ParquetFileReader reader = ParquetFileReader.open(HadoopInputFile.fromPath(
                new Path(dir.resolve("split=train").resolve("part-00003.parquet").toString()), new Configuration()))) {
            assertTrue(reader.getRowGroups().size() >= 2, "several row groups in a shard: " + reader.getRowGroups().size());
        }
        try (Stream<java.nio.file.Path> files = Files.list(dir.resolve("split=train"))) {
            assertEquals(List.of(), files.map(p -> p.getFileName().toString()).filter(n -> n.contains("attempt")).toList());
        }
        SparkSession spark = SparkSession.builder().master("local[1]").appName("shards").config("spark.ui.enabled", "false").getOrCreate();
        try {
            List<Row> rows = TokenizedDataset.windows(spark, dir.toString(), "train").select("tokens").collectAsList();
            assertEquals(20_000, rows.size());
            int[][] read = new int[20_000][];
            for (Row r : rows) {
                int[] ids = r.<Integer>getList(0).stream().mapToInt(Integer::intValue).toArray();
                assertEquals(null, read[ids[0]], "window " + ids[0] + " read twice");
                read[ids[0]] = ids;
            }
            for (int i = 0; i < read.length; i++) {
                assertArrayEquals(window(i), read[i], "window " + i);
            }
        } finally {
            spark.stop();
        }
    }

    @Test
    void anEmptyWindowIsAnEmptyList() throws Exception {
        try (WindowShardWriter w = new WindowShardWriter(new Path(dir.toString()), "validation", 0, 0, new Configuration())) {
            w.write(new int[0]);
            w.write(new int[] {7, 8});
        }
        SparkSession spark = SparkSession.builder().master("local[1]").appName("shards").config("spark.ui.enabled", "false").getOrCreate();
        try {
            List<List<Integer>> rows = TokenizedDataset.windows(spark, dir.toString(), "validation").select("tokens")
                    .collectAsList().stream().map(r -> r.<Integer>getList(0)).toList();
            assertEquals(List.of(List.of(), List.of(7, 8)), rows);
        } finally {
            spark.stop();
        }
    }
}

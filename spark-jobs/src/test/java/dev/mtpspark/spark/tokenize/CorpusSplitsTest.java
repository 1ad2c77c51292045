package dev.mtpspark.spark.tokenize;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Files packed into tasks by size, as Spark's file sources split: many small files make few tasks. */
class CorpusSplitsTest {
    private static List<SourceFile> files(int count, long bytes) {
        List<SourceFile> f = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            f.add(new SourceFile("file:/c/" + i, String.valueOf(i), bytes));
        }
        return f;
    }

    @Test
    void packsSmallFilesSpreadsSmallCorporaOverTheCoresAndNeverCutsAFile() {
        // 3,000 files of 20 KB (60 MB) on 2 cores: about total / 2 per task, not 3,000 tasks.
        List<List<SourceFile>> s = Corpus.splits(files(3000, 20_000), 128L << 20, 256, 2);
        assertEquals(2, s.size());
        assertEquals(3000, s.stream().mapToInt(List::size).sum());
        // A small corpus still uses every core down to 4 MiB per task; below that, one task.
        assertEquals(4, Corpus.splits(files(400, 50_000), 128L << 20, 256, 4).size());
        assertEquals(1, Corpus.splits(files(10, 1000), 128L << 20, 256, 8).size());
        // Large files: one per task at the 128 MiB target, never cut.
        assertEquals(3, Corpus.splits(files(3, 200L << 20), 128L << 20, 256, 2).size());
        // More splits than cores: a multiple of the cores, of nearly equal size (607 MB of 13 KB files on 2 cores at
        // the 128 MiB target: six splits, not five, the last of which would run alone).
        List<List<SourceFile>> even = Corpus.splits(files(45_000, 13_500), 128L << 20, 256, 2);
        assertEquals(6, even.size());
        long[] sizes = even.stream().mapToLong(g -> g.stream().mapToLong(SourceFile::size).sum()).toArray();
        assertEquals(45_000L * 13_500, java.util.Arrays.stream(sizes).sum());
        for (long size : sizes) {
            assertEquals(45_000L * 13_500 / 6, size, 13_500);
        }
        // Files of uneven size still make whole splits near the target, none cut.
        List<SourceFile> mixed = new ArrayList<>();
        for (int i = 0; i < 3000; i++) {
            mixed.add(new SourceFile("file:/m/" + i, String.valueOf(i), i % 7 == 0 ? 900_000 : 40_000));
        }
        assertEquals(4, Corpus.splits(mixed, 128L << 20, 256, 4).size());
        assertEquals(12, Corpus.splits(mixed, 40L << 20, 256, 4).size());
        // At most --partitions tasks.
        assertEquals(10, Corpus.splits(files(1000, 1L << 20), 1L << 20, 10, 64).size());
    }
}

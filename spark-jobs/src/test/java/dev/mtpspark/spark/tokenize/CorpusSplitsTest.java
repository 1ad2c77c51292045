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
        // At most --partitions tasks.
        assertEquals(10, Corpus.splits(files(1000, 1L << 20), 1L << 20, 10, 64).size());
    }
}

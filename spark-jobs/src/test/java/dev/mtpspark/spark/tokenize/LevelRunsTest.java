package dev.mtpspark.spark.tokenize;

import org.apache.parquet.bytes.ByteBufferInputStream;
import org.apache.parquet.column.values.rle.RunLengthBitPackingHybridDecoder;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Levels written as runs decode, through Parquet's own decoder, to the levels appended. */
class LevelRunsTest {
    private static List<Integer> decode(LevelRuns runs, int bitWidth, int count) throws Exception {
        RunLengthBitPackingHybridDecoder decoder = new RunLengthBitPackingHybridDecoder(bitWidth,
                ByteBufferInputStream.wrap(runs.toBytes().toByteBuffer()));
        List<Integer> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            out.add(decoder.readInt());
        }
        return out;
    }

    @Test
    void decodesToTheAppendedLevelsWithRunsOfAnyLength() throws Exception {
        Random random = new Random(7);
        LevelRuns runs = new LevelRuns();
        List<Integer> expected = new ArrayList<>();
        for (int r = 0; r < 2000; r++) {
            int level = random.nextInt(2);
            // lengths 0 (ignored), 1, short, over 127 (a two-byte header) and over 16,383 (three bytes)
            int count = switch (r % 5) {
                case 0 -> 0;
                case 1 -> 1;
                case 2 -> 1 + random.nextInt(9);
                case 3 -> 128 + random.nextInt(1000);
                default -> r % 50 == 4 ? 16_384 + random.nextInt(40_000) : 1027;
            };
            runs.append(level, count);
            for (int i = 0; i < count; i++) {
                expected.add(level);
            }
        }
        assertEquals(expected, decode(runs, 1, expected.size()));
    }

    @Test
    void windowLevelsAndTheirSizeAndReset() throws Exception {
        LevelRuns repetition = new LevelRuns();
        LevelRuns definition = new LevelRuns();
        for (int w = 0; w < 3; w++) {        // three windows of 5 ids: levels 0 1 1 1 1, all defined
            repetition.append(0, 1);
            repetition.append(1, 4);
            definition.append(1, 5);
        }
        assertEquals(List.of(0, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 1), decode(repetition, 1, 15));
        assertEquals(List.of(1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1), decode(definition, 1, 15));
        assertEquals(2, definition.toBytes().size(), "one run: a header byte and the value");
        assertEquals(12, repetition.toBytes().size(), "six runs of two bytes");
        repetition.reset();
        assertEquals(0, repetition.bufferedSize());
        repetition.append(3, 200);
        assertEquals(List.of(3, 3, 3), decode(repetition, 2, 3));
        assertThrows(IllegalArgumentException.class, () -> repetition.append(256, 1));
    }
}

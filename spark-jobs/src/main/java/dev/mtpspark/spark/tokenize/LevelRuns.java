package dev.mtpspark.spark.tokenize;

import org.apache.parquet.bytes.BytesInput;

import java.util.Arrays;

/**
 * Repetition or definition levels of one Parquet page, written as runs of Parquet's RLE/bit-packing hybrid encoding
 * (the RLE form only: a varint header {@code count << 1} and the value in one byte, for levels of at most 8 bits).
 * A window's levels are two runs at most (its first id at repetition level 0, the others at 1; every id defined),
 * so they are appended a run at a time instead of a value at a time through Parquet's own encoder, whose per-value
 * call was a fifth of the byte job's time. Adjacent runs of one value are merged; readers take any run lengths.
 */
final class LevelRuns {
    private byte[] bytes = new byte[256];
    private int size;
    private int value = -1;
    private long count;

    /** Appends {@code count} levels of {@code level} (0–255). */
    void append(int level, int count) {
        if (level < 0 || level > 255) {
            throw new IllegalArgumentException("levels of 0–255 are written in one byte, not " + level);
        }
        if (count <= 0) {
            return;
        }
        if (level != value) {
            flushRun();
            value = level;
        }
        this.count += count;
    }

    /** Bytes this page's levels take so far (the run being counted included). */
    long bufferedSize() {
        return size + (count > 0 ? 6 : 0);
    }

    /** The page's levels, encoded; valid until the next {@link #reset()}. */
    BytesInput toBytes() {
        flushRun();
        return BytesInput.from(bytes, 0, size);
    }

    void reset() {
        size = 0;
        value = -1;
        count = 0;
    }

    private void flushRun() {
        if (count == 0) {
            return;
        }
        if (size + 7 > bytes.length) {
            bytes = Arrays.copyOf(bytes, bytes.length * 2);
        }
        // A run's length is an int in Parquet's readers: a page holds far fewer levels than 2^30.
        long header = count << 1;
        while ((header & ~0x7FL) != 0) {
            bytes[size++] = (byte) ((header & 0x7F) | 0x80);
            header >>>= 7;
        }
        bytes[size++] = (byte) header;
        bytes[size++] = (byte) value;
        count = 0;
    }
}

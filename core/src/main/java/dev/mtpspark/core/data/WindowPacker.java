package dev.mtpspark.core.data;

import java.util.function.Consumer;
import java.util.function.IntConsumer;

/**
 * Packs a token stream into training windows of T + n tokens with stride T: window i holds tokens
 * {@code [i·T, i·T + T + n)}, so consecutive windows overlap by n tokens and every input position of every
 * window has a label for each horizon. Tokens after the last full window are counted as the tail.
 * <p>
 * The sink gets the packer's own buffer, which the next window overwrites: a sink that keeps a window copies it.
 * The job's writer encodes each window as it arrives, and a copy per window was a quarter of its allocation.
 */
public final class WindowPacker implements IntConsumer {
    private final int stride;
    private final int[] buffer;
    private final Consumer<int[]> sink;
    private int filled;
    private long tokens;
    private long windows;

    public WindowPacker(int contextLength, int predictedTokens, Consumer<int[]> sink) {
        if (contextLength < 1 || predictedTokens < 1) {
            throw new IllegalArgumentException("contextLength and predictedTokens must be ≥ 1");
        }
        this.stride = contextLength;
        this.buffer = new int[contextLength + predictedTokens];
        this.sink = sink;
    }

    @Override
    public void accept(int token) {
        tokens++;
        buffer[filled++] = token;
        if (filled == buffer.length) {
            sink.accept(buffer);
            windows++;
            // Keep the n overlapping tokens as the start of the next window.
            System.arraycopy(buffer, stride, buffer, 0, buffer.length - stride);
            filled = buffer.length - stride;
        }
    }

    /** Tokens received so far. */
    public long tokens() {
        return tokens;
    }

    public long windows() {
        return windows;
    }

    /** Tokens received that no window covers (fewer than T at the end, or the whole stream if under T + n). */
    public long tailTokens() {
        return windows == 0 ? tokens : tokens - windows * stride - (buffer.length - stride);
    }

    /** Windows a stream of {@code tokens} tokens yields. */
    public static long windowCount(long tokens, int contextLength, int predictedTokens) {
        return tokens < contextLength + predictedTokens ? 0 : (tokens - predictedTokens) / contextLength;
    }
}

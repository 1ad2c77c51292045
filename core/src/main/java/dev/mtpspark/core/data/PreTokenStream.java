package dev.mtpspark.core.data;

import java.util.Arrays;

/**
 * Splits a stream of text into byte-level pre-tokens ({@link ByteLevel#preTokenEnd}) in bounded memory: it
 * holds back only the last pre-token, which more text could still extend. A run of more than
 * {@link #MAX_BUFFERED_CHARS} characters without a boundary is cut there (the one place where streaming
 * differs from splitting the whole text at once).
 */
public final class PreTokenStream {
    public static final int MAX_BUFFERED_CHARS = 1 << 20;
    private static final int FLUSH_CHARS = 1 << 16;

    private char[] text = new char[FLUSH_CHARS + 2];
    private int length;
    private int flushAt = FLUSH_CHARS;
    private final Sink sink;

    /** Receives each pre-token as a range of the stream's buffer, valid only during the call. */
    @FunctionalInterface
    public interface Sink {
        void accept(char[] text, int start, int end);
    }

    public PreTokenStream(Sink sink) {
        this.sink = sink;
    }

    /** Appends one code point. */
    public void append(int codePoint) {
        if (length + 2 > text.length) {
            text = Arrays.copyOf(text, text.length * 2);
        }
        if (Character.isBmpCodePoint(codePoint)) {
            text[length++] = (char) codePoint;
        } else {
            text[length++] = Character.highSurrogate(codePoint);
            text[length++] = Character.lowSurrogate(codePoint);
        }
        if (length >= flushAt) {
            flush(false);
            flushAt = length + FLUSH_CHARS;
        }
    }

    public void append(CharSequence s) {
        s.codePoints().forEach(this::append);
    }

    /** Emits everything held back; the stream can be reused for a new document afterwards. */
    public void finish() {
        flush(true);
        flushAt = FLUSH_CHARS;
    }

    /** Emits every complete pre-token (all of them at the end), cutting runs at MAX_BUFFERED_CHARS characters. */
    private void flush(boolean all) {
        int start = 0;
        while (start < length) {
            int end = ByteLevel.preTokenEnd(text, start, length);
            if (end - start >= MAX_BUFFERED_CHARS) {
                end = start + MAX_BUFFERED_CHARS;
                if (Character.isHighSurrogate(text[end - 1]) && end < length && Character.isLowSurrogate(text[end])) {
                    end++;
                }
            } else if (end == length && !all) {
                break;                                 // the last pre-token: more text could extend it
            }
            sink.accept(text, start, end);
            start = end;
        }
        System.arraycopy(text, start, text, 0, length - start);
        length -= start;
    }
}

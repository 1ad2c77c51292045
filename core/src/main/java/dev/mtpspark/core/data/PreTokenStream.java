package dev.mtpspark.core.data;

import java.util.function.Consumer;
import java.util.regex.Matcher;

/**
 * Splits a stream of text into byte-level pre-tokens ({@link ByteLevel#PRE_TOKEN}) in bounded memory: it
 * holds back only the last pre-token, which more text could still extend. A run of more than
 * {@link #MAX_BUFFERED_CHARS} characters without a boundary is cut there (the one place where streaming
 * differs from splitting the whole text at once).
 */
public final class PreTokenStream {
    public static final int MAX_BUFFERED_CHARS = 1 << 20;
    private static final int FLUSH_CHARS = 1 << 16;

    private final StringBuilder text = new StringBuilder();
    private final Consumer<String> sink;

    public PreTokenStream(Consumer<String> sink) {
        this.sink = sink;
    }

    /** Appends one code point. */
    public void append(int codePoint) {
        text.appendCodePoint(codePoint);
        if (text.length() >= FLUSH_CHARS) {
            flush(false);
        }
    }

    public void append(CharSequence s) {
        s.codePoints().forEach(this::append);
    }

    /** Emits everything held back; the stream can be reused for a new document afterwards. */
    public void finish() {
        flush(true);
    }

    private void flush(boolean all) {
        Matcher m = ByteLevel.PRE_TOKEN.matcher(text);
        int lastStart = -1;
        String pending = null;
        while (m.find()) {
            if (pending != null) {
                sink.accept(pending);
            }
            pending = m.group();
            lastStart = m.start();
        }
        if (pending == null) {
            return;
        }
        if (all || text.length() - lastStart >= MAX_BUFFERED_CHARS) {
            sink.accept(pending);
            text.setLength(0);
        } else {
            text.delete(0, lastStart);
        }
    }
}

package dev.mtpspark.core.data;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.function.IntConsumer;

/**
 * Streaming UTF-8 decoder to code points. Malformed input is replaced by U+FFFD and counted, with exactly the
 * boundaries {@code new String(bytes, UTF_8)} uses (Java's own decoder reports them), so our text equals
 * what every Java-based tool sees — the Hugging Face tokenizers binding included.
 */
final class Utf8Decoder {
    static final int REPLACEMENT = 0xFFFD;

    private final IntConsumer sink;
    private final CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
            .onMalformedInput(CodingErrorAction.REPORT)
            .onUnmappableCharacter(CodingErrorAction.REPORT);
    private final ByteBuffer in = ByteBuffer.allocate(1 << 14);
    private final CharBuffer out = CharBuffer.allocate(1 << 14);
    private char pendingHigh;
    private long replaced;

    Utf8Decoder(IntConsumer sink) {
        this.sink = sink;
    }

    void write(byte[] bytes, int offset, int length) {
        int end = offset + length;
        while (offset < end) {
            if (in.position() == 0 && pendingHigh == 0) {
                // Nothing held back: ASCII, most of most corpora, is its own code point; no trip through the JDK's
                // decoder and its buffers.
                while (offset < end && bytes[offset] >= 0) {
                    sink.accept(bytes[offset++]);
                }
            }
            // Up to the next ASCII byte after a non-ASCII run, through the JDK's decoder, which keeps an incomplete
            // sequence at the end of the input for the next call.
            int stop = offset;
            while (stop < end && (bytes[stop] < 0 || stop == offset)) {
                stop++;
            }
            while (offset < stop) {
                int n = Math.min(stop - offset, in.remaining());
                in.put(bytes, offset, n);
                offset += n;
                drain(false);
            }
        }
    }

    void finish() {
        drain(true);
        decoder.flush(out);
        emitChars();
        if (pendingHigh != 0) {
            sink.accept(pendingHigh);
            pendingHigh = 0;
        }
    }

    long replaced() {
        return replaced;
    }

    private void drain(boolean endOfInput) {
        in.flip();
        while (true) {
            CoderResult result = decoder.decode(in, out, endOfInput);
            emitChars();
            if (result.isError()) {
                in.position(in.position() + result.length());
                replaced++;
                sink.accept(REPLACEMENT);
            } else if (!result.isOverflow()) {
                break;
            }
        }
        in.compact();
    }

    private void emitChars() {
        out.flip();
        while (out.hasRemaining()) {
            char c = out.get();
            if (pendingHigh != 0) {
                if (Character.isLowSurrogate(c)) {
                    sink.accept(Character.toCodePoint(pendingHigh, c));
                    pendingHigh = 0;
                    continue;
                }
                sink.accept(pendingHigh);
                pendingHigh = 0;
            }
            if (Character.isHighSurrogate(c)) {
                pendingHigh = c;
            } else {
                sink.accept(c);
            }
        }
        out.clear();
    }
}

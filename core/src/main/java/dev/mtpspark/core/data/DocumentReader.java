package dev.mtpspark.core.data;

import java.io.IOException;
import java.io.InputStream;

/**
 * Splits a byte stream into documents without holding a document in memory: bytes flow to a
 * {@link DocumentSink} as they are read, so a 200 MB line costs one read buffer.
 */
public final class DocumentReader {
    /** How plain text is divided into documents. */
    public enum TextMode {
        /** The whole file is one document. */
        FILE,
        /** Every non-empty line is a document ({@code \n} or {@code \r\n} line ends; the line end is not part of it). */
        LINE,
        /** Documents are separated by one or more blank lines; line breaks inside a document are kept. */
        PARAGRAPH
    }

    /** Receives documents as byte runs. */
    public interface DocumentSink {
        void startDocument();

        void bytes(byte[] data, int offset, int length);

        void endDocument();
    }

    private DocumentReader() {
    }

    /** Reads {@code in} to its end and passes its documents to {@code sink}. Empty documents are not emitted. */
    public static void read(InputStream in, TextMode mode, DocumentSink sink) throws IOException {
        read(in, mode, sink, new byte[1 << 16]);
    }

    /**
     * As {@link #read(InputStream, TextMode, DocumentSink)}, reading through the caller's buffer: a reader of many
     * small files reuses one instead of allocating (and zeroing) a new one per file.
     */
    public static void read(InputStream in, TextMode mode, DocumentSink sink, byte[] buf) throws IOException {
        if (mode == TextMode.FILE) {
            boolean started = false;
            int n;
            while ((n = in.read(buf)) > 0) {
                if (!started) {
                    sink.startDocument();
                    started = true;
                }
                sink.bytes(buf, 0, n);
            }
            if (started) {
                sink.endDocument();
            }
            return;
        }
        Splitter s = new Splitter(mode == TextMode.PARAGRAPH, sink);
        int n;
        while ((n = in.read(buf)) > 0) {
            s.feed(buf, n);
        }
        s.end();
    }

    /** Line-oriented state machine shared by the LINE and PARAGRAPH modes. */
    private static final class Splitter {
        private static final byte[] NEWLINE = {'\n'};
        private static final byte[] CR = {'\r'};
        private final boolean paragraphs;
        private final DocumentSink sink;
        private boolean inDocument;
        private boolean lineHasBytes;
        private boolean pendingNewline;   // paragraph mode: a line break to emit if the document continues
        private boolean pendingCr;        // a '\r' that is dropped if '\n' follows

        Splitter(boolean paragraphs, DocumentSink sink) {
            this.paragraphs = paragraphs;
            this.sink = sink;
        }

        void feed(byte[] buf, int n) {
            int runStart = 0;
            for (int i = 0; i < n; i++) {
                byte b = buf[i];
                if (b == '\n' || b == '\r') {
                    content(buf, runStart, i - runStart);
                    if (b == '\r') {
                        if (pendingCr) {
                            content(CR, 0, 1);
                        }
                        pendingCr = true;
                    } else {
                        pendingCr = false;
                        lineEnd();
                    }
                    runStart = i + 1;
                }
            }
            content(buf, runStart, n - runStart);
        }

        private void content(byte[] data, int offset, int length) {
            if (length == 0) {
                return;
            }
            if (pendingCr) {
                pendingCr = false;
                content(CR, 0, 1);
            }
            if (!inDocument) {
                sink.startDocument();
                inDocument = true;
            } else if (pendingNewline) {
                sink.bytes(NEWLINE, 0, 1);
            }
            pendingNewline = false;
            lineHasBytes = true;
            sink.bytes(data, offset, length);
        }

        private void lineEnd() {
            if (!paragraphs) {
                endDocument();
            } else if (lineHasBytes) {
                pendingNewline = true;
            } else {
                endDocument();                       // a blank line closes the paragraph
            }
            lineHasBytes = false;
        }

        private void endDocument() {
            if (inDocument) {
                sink.endDocument();
                inDocument = false;
            }
            pendingNewline = false;
        }

        void end() {
            if (pendingCr) {
                pendingCr = false;
                content(CR, 0, 1);
            }
            endDocument();
        }
    }
}

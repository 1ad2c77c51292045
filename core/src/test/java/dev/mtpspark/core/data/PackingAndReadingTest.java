package dev.mtpspark.core.data;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class PackingAndReadingTest {

    @Test
    void windowsHaveTPlusNTokensStrideTAndCountTheTail() {
        List<int[]> windows = new ArrayList<>();
        WindowPacker p = new WindowPacker(4, 2, w -> windows.add(w.clone()));     // the packer reuses its buffer
        for (int i = 0; i < 17; i++) {
            p.accept(i);
        }
        // (17 − 2) / 4 = 3 windows: [0..6), [4..10), [8..14); tokens 14..16 are beyond the last label.
        assertEquals(3, windows.size());
        assertArrayEquals(new int[] {0, 1, 2, 3, 4, 5}, windows.get(0));
        assertArrayEquals(new int[] {4, 5, 6, 7, 8, 9}, windows.get(1));
        assertArrayEquals(new int[] {8, 9, 10, 11, 12, 13}, windows.get(2));
        assertEquals(3, WindowPacker.windowCount(17, 4, 2));
        assertEquals(3, p.tailTokens());
        assertEquals(0, WindowPacker.windowCount(5, 4, 2));
    }

    private static List<String> documents(String text, DocumentReader.TextMode mode, int chunk) throws IOException {
        List<String> docs = new ArrayList<>();
        ByteArrayOutputStream current = new ByteArrayOutputStream();
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        // A stream that returns at most `chunk` bytes per read, to cross every boundary.
        InputStream in = new ByteArrayInputStream(bytes) {
            @Override
            public synchronized int read(byte[] b, int off, int len) {
                return super.read(b, off, Math.min(len, chunk));
            }
        };
        DocumentReader.read(in, mode, new DocumentReader.DocumentSink() {
            public void startDocument() {
                current.reset();
            }

            public void bytes(byte[] data, int offset, int length) {
                current.write(data, offset, length);
            }

            public void endDocument() {
                docs.add(current.toString(StandardCharsets.UTF_8));
            }
        });
        return docs;
    }

    @Test
    void textModesSplitDocumentsAcrossReadBoundaries() throws IOException {
        String text = "first line\r\nsecond\n\n\nthird para\nstill third\r\n\r\nlast\rx";
        for (int chunk : new int[] {1, 2, 3, 1000}) {
            assertEquals(List.of(text), documents(text, DocumentReader.TextMode.FILE, chunk));
            assertEquals(List.of("first line", "second", "third para", "still third", "last\rx"),
                    documents(text, DocumentReader.TextMode.LINE, chunk), "chunk " + chunk);
            assertEquals(List.of("first line\nsecond", "third para\nstill third", "last\rx"),
                    documents(text, DocumentReader.TextMode.PARAGRAPH, chunk), "chunk " + chunk);
        }
        assertEquals(List.of(), documents("", DocumentReader.TextMode.FILE, 10));
        assertEquals(List.of(), documents("\n\n\r\n", DocumentReader.TextMode.LINE, 10));
    }

    @Test
    void tokenizerFilesRoundTripEveryType() {
        byte[] text = "abc ✓ abc".getBytes(StandardCharsets.UTF_8);
        List<Tokenizer> all = List.of(new ByteTokenizer(), new CharTokenizer(CharTokenizer.codePointsOf(text), true),
                BpeTrainer.train(BpeTrainer.preTokenCounts("abc abc abd abd"), 262));
        for (Tokenizer t : all) {
            Tokenizer back = TokenizerFiles.fromJson(t.type(), TokenizerFiles.toJson(t), null);
            assertEquals(t.vocabSize(), back.vocabSize(), t.type());
            assertEquals(t.eosId(), back.eosId(), t.type());
            assertArrayEquals(t.encode(text), back.encode(text), t.type());
        }
        var e = assertThrows(IllegalArgumentException.class, () -> TokenizerFiles.fromJson("wordpiece", "{}", null));
        assertTrue(e.getMessage().contains("valid: byte, char, bpe, huggingface"));
    }
}

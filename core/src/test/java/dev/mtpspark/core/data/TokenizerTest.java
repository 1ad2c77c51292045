package dev.mtpspark.core.data;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

class TokenizerTest {
    private static byte[] shakespeare;
    /** Valid text with multi-byte characters, then invalid UTF-8 of every kind. */
    private static final byte[] INVALID = concat("héllo wörld — ✓ 😀 ".getBytes(StandardCharsets.UTF_8),
            new byte[] {(byte) 0xFF, 'a', (byte) 0xC3, 'b', (byte) 0xE2, (byte) 0x82, ' ', (byte) 0xED, (byte) 0xA0, (byte) 0x80,
                    (byte) 0xC0, (byte) 0xAF, (byte) 0xF4, (byte) 0x90, (byte) 0x80, (byte) 0x80, 'z', (byte) 0xF0, (byte) 0x9F});

    @BeforeAll
    static void load() throws Exception {
        shakespeare = SharedCorpora.tinyShakespeareBytes();
    }

    @Test
    void byteTokenizerRoundTripsEveryByte() {
        ByteTokenizer t = new ByteTokenizer();
        assertArrayEquals(shakespeare, t.decodeBytes(t.encode(shakespeare)));
        assertArrayEquals(INVALID, t.decodeBytes(t.encode(INVALID)));
        assertEquals(shakespeare.length, t.encode(shakespeare).length);
    }

    @Test
    void charVocabularyOfTinyShakespeareHas65SymbolsAndRoundTrips() {
        CharTokenizer t = new CharTokenizer(CharTokenizer.codePointsOf(shakespeare), false);
        assertEquals(65, t.vocabSize());
        assertEquals(-1, t.eosId());
        int[] ids = t.encode(shakespeare);
        assertEquals(1_115_394, ids.length);
        assertEquals(new String(shakespeare, StandardCharsets.UTF_8), t.decode(ids));
    }

    @Test
    void charIdsAreCodePointRanksAndUnknownCharactersAreDroppedAndCounted() {
        // Below U+0800 the ids come from a table, above from a search: both, and characters in neither vocabulary.
        CharTokenizer t = new CharTokenizer(new int[] {0x1F600, 'a', 0x4E2D, 0xE9, 0x7FF, 0x800}, true);
        Tokenizer.IntArrayBuilder out = new Tokenizer.IntArrayBuilder(16);
        Tokenizer.Encoder e = t.newEncoder(out);
        byte[] text = "aéxb中😀Z\u07FF\u0800\u0801".getBytes(StandardCharsets.UTF_8);
        e.write(text, 0, text.length);
        e.finish();
        assertArrayEquals(new int[] {0, 1, 4, 5, 2, 3}, out.toArray());
        assertEquals(4, e.unknownCharacters(), "x, b, Z and U+0801");
        assertEquals(6, t.eosId());
    }

    @Test
    void invalidUtf8IsReplacedAndCountedExactlyLikeJava() {
        String javaText = new String(INVALID, StandardCharsets.UTF_8);
        CharTokenizer t = new CharTokenizer(CharTokenizer.codePointsOf(INVALID), true);
        Tokenizer.IntArrayBuilder out = new Tokenizer.IntArrayBuilder(16);
        Tokenizer.Encoder e = t.newEncoder(out);
        e.write(INVALID, 0, INVALID.length);
        e.finish();
        assertEquals(javaText, t.decode(out.toArray()));
        assertEquals(javaText.chars().filter(c -> c == 0xFFFD).count(), e.replacedSequences());
        assertTrue(e.replacedSequences() >= 7);
    }

    @Test
    void utf8DecoderMatchesJavaOnRandomBytesInAnyChunking() {
        Random r = new Random(5);
        for (int trial = 0; trial < 5000; trial++) {
            byte[] bytes = new byte[r.nextInt(60)];
            int asciiPercent = r.nextInt(4) * 30;     // 0 to 90 % ASCII: the decoder's fast path starts and stops
            for (int i = 0; i < bytes.length; i++) {
                // Mostly plausible UTF-8 lead/continuation bytes, so that valid sequences occur too.
                bytes[i] = (byte) (r.nextInt(100) < asciiPercent ? r.nextInt(128)
                        : r.nextBoolean() ? 0x80 + r.nextInt(0x40) : r.nextInt(256));
            }
            StringBuilder sb = new StringBuilder();
            Utf8Decoder d = new Utf8Decoder(sb::appendCodePoint);
            int pos = 0;
            int most = 1 + r.nextInt(20);
            while (pos < bytes.length) {
                int len = Math.min(bytes.length - pos, 1 + r.nextInt(most));
                d.write(bytes, pos, len);
                pos += len;
            }
            d.finish();
            assertEquals(new String(bytes, StandardCharsets.UTF_8), sb.toString(), "bytes " + Arrays.toString(bytes));
        }
    }

    @Test
    void bpeRoundTripsShakespeareAndInvalidUtf8AndStreamsIdentically() {
        String head = new String(shakespeare, 0, 200_000, StandardCharsets.UTF_8);
        BpeTokenizer t = BpeTrainer.train(BpeTrainer.preTokenCounts(head), 512);
        assertEquals(512, t.vocabSize());
        int[] ids = t.encode(shakespeare);
        assertTrue(ids.length < shakespeare.length / 1.7, "a 512-token BPE compresses English well beyond 1.7 bytes per token: " + ids.length);
        assertEquals(new String(shakespeare, StandardCharsets.UTF_8), t.decode(ids));
        assertEquals(new String(INVALID, StandardCharsets.UTF_8), t.decode(t.encode(INVALID)));

        // Streaming in odd chunk sizes gives the same ids as encoding at once.
        assertArrayEquals(ids, encodeInChunks(t, shakespeare, 7919));
    }

    @Test
    void ourBpeFileLoadsInHuggingFaceTokenizersWithTheSameIds() {
        String head = new String(shakespeare, 0, 100_000, StandardCharsets.UTF_8);
        BpeTokenizer ours = BpeTrainer.train(BpeTrainer.preTokenCounts(head), 400);
        String json = ours.toHuggingFaceJson();
        BpeTokenizer reloaded = BpeTokenizer.fromHuggingFaceJson(json);
        HuggingFaceTokenizer hf = new HuggingFaceTokenizer(json, BpeTokenizer.EOS_TOKEN);
        assertEquals(ours.vocabSize(), hf.vocabSize());
        assertEquals(ours.eosId(), hf.eosId());

        String sample = new String(shakespeare, 0, 60_000, StandardCharsets.UTF_8)
                + "\n  Ünïcödé — naïve café 😀 42,000 it's they'll   \n\n\t x";
        int[] expected = ours.encode(sample);
        assertArrayEquals(expected, hf.encodeText(sample));
        assertArrayEquals(expected, reloaded.encode(sample));
        assertArrayEquals(expected, hf.encode(sample));                       // the streaming path
        assertEquals(sample, hf.decode(expected));
    }

    @Test
    void specialTokensAreEncodedWholeNeverMergedAndMatchHuggingFaceTokenizers() {
        List<String> specials = List.of("<|user|>", "<|user|>x", "<pad>", "ß✓");
        String head = new String(shakespeare, 0, 100_000, StandardCharsets.UTF_8);
        // Training text full of the specials: without the split, "<|user|>" would become one merged token.
        String training = head.replace("\n\n", "\n<|user|>\n<pad><pad>") + "<|endoftext|>";
        Map<String, Long> counts = new HashMap<>();
        Tokenizer.Encoder counter = BpeTrainer.preTokenCounter(counts, specials);
        byte[] bytes = training.getBytes(StandardCharsets.UTF_8);
        counter.write(bytes, 0, bytes.length);
        counter.finish();
        assertTrue(counts.keySet().stream().noneMatch(t -> t.contains("|") || t.contains("<pad") || t.contains("pad>")),
                "special tokens are not counted as text");
        BpeTokenizer t = BpeTrainer.train(counts, 400 - specials.size()).withSpecialTokens(specials);
        assertEquals(400, t.vocabSize());
        int eos = t.eosId();
        assertEquals(400 - 1 - specials.size(), eos);

        // Leftmost-longest: "<|user|>x" beats "<|user|>"; a prefix that does not complete stays text; a special
        // glued to words splits them; streaming in any chunking gives the same ids.
        String sample = "a<|user|>b <|user|>xy<|use <|user|<pad>ß✓ß<|endoftext|>wörld<|user|><|endoftext|>" + head.substring(0, 3000);
        int[] ids = t.encode(sample);
        assertEquals(sample, t.decode(ids));
        assertEquals(List.of(eos + 1, eos + 2, eos + 3, eos + 4, eos, eos + 1, eos),
                Arrays.stream(ids).filter(id -> id >= eos).boxed().toList());
        assertArrayEquals(t.encode("a"), t.encode(sample.substring(0, 1)));
        byte[] sampleBytes = sample.getBytes(StandardCharsets.UTF_8);
        assertArrayEquals(ids, encodeInChunks(t, sampleBytes, 3));

        String json = t.toHuggingFaceJson();
        BpeTokenizer reloaded = BpeTokenizer.fromHuggingFaceJson(json);
        assertEquals(specials, reloaded.specialTokens());
        assertArrayEquals(ids, reloaded.encode(sample));
        HuggingFaceTokenizer hf = new HuggingFaceTokenizer(json, BpeTokenizer.EOS_TOKEN);
        assertEquals(t.vocabSize(), hf.vocabSize());
        assertArrayEquals(ids, hf.encodeText(sample));
        assertEquals(sample, hf.decode(ids));
        assertTrue(hf.cachesPreTokens());
        assertArrayEquals(ids, hf.encode(sample), "the pre-token cache splits at the added tokens as the library does");
        assertArrayEquals(ids, encodeInChunks(hf, sampleBytes, 3));

        var bad = assertThrows(IllegalArgumentException.class, () -> t.withSpecialTokens(List.of("<a>", "<a>")));
        assertTrue(bad.getMessage().contains("<a> is listed twice"), bad.getMessage());
        bad = assertThrows(IllegalArgumentException.class, () -> t.withSpecialTokens(List.of(BpeTokenizer.EOS_TOKEN)));
        assertTrue(bad.getMessage().contains("already the end-of-text token"), bad.getMessage());
    }

    @Test
    void huggingFacePreTokenCacheGivesTheLibrarysIdsOnCodeProseAndOddText() throws Exception {
        StringBuilder code = new StringBuilder();
        try (var files = java.nio.file.Files.walk(java.nio.file.Path.of("src/main/java"))) {
            for (java.nio.file.Path f : files.filter(p -> p.toString().endsWith(".java")).sorted().limit(40).toList()) {
                code.append(java.nio.file.Files.readString(f));
            }
        }
        String prose = new String(shakespeare, 0, 100_000, StandardCharsets.UTF_8);
        String odd = "tabs\t\t\tand    spaces   \n\n\n  \r\n it's I'M we'LL 'tis x'd 3.14159 1,000,000 ½ Ⅻ ٣ "
                + "naïve café 😀👍🏽 中文字符 العربية ‐–— \u00a0nbsp \u200bzero-width" + " ".repeat(300) + "end"
                + new String(INVALID, StandardCharsets.UTF_8);
        BpeTokenizer ours = BpeTrainer.train(BpeTrainer.preTokenCounts(prose + code), 600).withSpecialTokens(List.of("<|user|>"));
        String json = ours.toHuggingFaceJson();
        HuggingFaceTokenizer hf = new HuggingFaceTokenizer(json, BpeTokenizer.EOS_TOKEN);
        assertTrue(hf.cachesPreTokens());
        for (String text : List.of(code.toString(), prose, odd, odd + "<|user|>" + odd + "<|endoftext|><|user|>")) {
            int[] library = hf.encodeText(text);                              // the whole text in one library call
            assertArrayEquals(library, hf.encode(text));
            assertArrayEquals(library, hf.encode(text), "again, from the cache");
        }

        // Files whose splitting differs from ours take the general path, with the library's ids as before.
        var mapper = new com.fasterxml.jackson.databind.ObjectMapper();
        var lowercase = (com.fasterxml.jackson.databind.node.ObjectNode) mapper.readTree(json);
        lowercase.putObject("normalizer").put("type", "Lowercase");
        var prefixSpace = (com.fasterxml.jackson.databind.node.ObjectNode) mapper.readTree(json);
        ((com.fasterxml.jackson.databind.node.ObjectNode) prefixSpace.get("pre_tokenizer")).put("add_prefix_space", true);
        var lstrip = (com.fasterxml.jackson.databind.node.ObjectNode) mapper.readTree(json);
        ((com.fasterxml.jackson.databind.node.ObjectNode) lstrip.get("added_tokens").get(1)).put("lstrip", true);
        for (var variant : List.of(lowercase, prefixSpace, lstrip)) {
            HuggingFaceTokenizer general = new HuggingFaceTokenizer(mapper.writeValueAsString(variant), BpeTokenizer.EOS_TOKEN);
            assertFalse(general.cachesPreTokens(), variant.toString().substring(0, 100));
            String text = prose.substring(0, 5000) + " <|user|> x" + odd;
            assertArrayEquals(general.encodeText(text), general.encode(text));
            if (variant != prefixSpace) {
                // Indented code, many 8 Ki chunks: no chunk ends inside a run of whitespace across a line break.
                assertArrayEquals(general.encodeText(code.toString()), general.encode(code.toString()));
            }
        }
        assertEquals(1, HuggingFaceTokenizer.lastLineEndBeforeText("a\nb\n  c\n"));   // not the break before "  c"
        assertEquals(-1, HuggingFaceTokenizer.lastLineEndBeforeText("a\n\n   "));
        assertEquals("it has a normalizer", HuggingFaceTokenizer.whyNotCacheable(lowercase));
    }

    @Test
    void bpeTrainingIsDeterministic() {
        String head = new String(shakespeare, 0, 50_000, StandardCharsets.UTF_8);
        assertEquals(BpeTrainer.train(BpeTrainer.preTokenCounts(head), 300).toHuggingFaceJson(),
                BpeTrainer.train(BpeTrainer.preTokenCounts(head), 300).toHuggingFaceJson());
    }

    @Test
    void foreignTokenizerFilesAreRejectedByTheBpeLoaderWithTheField() {
        var e = assertThrows(IllegalArgumentException.class, () -> BpeTokenizer.fromHuggingFaceJson("{\"model\":{\"type\":\"WordPiece\"}}"));
        assertTrue(e.getMessage().contains("model.type must be BPE"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> BpeTokenizer.fromHuggingFaceJson("not json"));
        assertTrue(e.getMessage().contains("not valid JSON"), e.getMessage());
    }

    /** The ids of {@code bytes} streamed into {@code t}'s encoder {@code chunk} bytes at a time. */
    private static int[] encodeInChunks(Tokenizer t, byte[] bytes, int chunk) {
        Tokenizer.IntArrayBuilder out = new Tokenizer.IntArrayBuilder(16);
        Tokenizer.Encoder e = t.newEncoder(out);
        for (int pos = 0; pos < bytes.length; pos += chunk) {
            e.write(bytes, pos, Math.min(chunk, bytes.length - pos));
        }
        e.finish();
        return out.toArray();
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] r = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }
}

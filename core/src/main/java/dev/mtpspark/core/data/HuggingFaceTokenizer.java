package dev.mtpspark.core.data;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.function.IntConsumer;

/**
 * Any Hugging Face {@code tokenizer.json}, encoded by the Rust tokenizers library through DJL's JNI binding
 * (the native library ships in the jar). Serializable as its JSON text, so Spark can ship it to executors;
 * the native tokenizer is created lazily on each JVM.
 *
 * <p><b>Pre-token cache.</b> A file that splits text exactly as our byte-level pre-tokenizer does (GPT-2-style
 * byte-level BPE: no normalizer, a {@code ByteLevel} pre-tokenizer without prefix space and with its pattern, no
 * BPE dropout, added tokens without strip or single-word rules, all matched alike) is encoded one pre-token at a
 * time: our {@link AddedTokenSplitter} and {@link PreTokenStream} split the text as the library would, and each
 * distinct pre-token's ids come from the library once and are then looked up. Because BPE merges never cross a
 * pre-token, the ids equal those of the library on the whole text (tested). Other files take the general path.
 *
 * <p>General path, streaming: text is handed to the library in chunks that end at a line break followed by
 * text (not by more whitespace) once at least 8 Ki characters are buffered (or at
 * {@link PreTokenStream#MAX_BUFFERED_CHARS} without one), so that no pre-token of the common pre-tokenizers spans
 * two chunks. Pre-tokenizers that mark the start of the input (e.g. a prefix space) still see each chunk as one.
 */
public final class HuggingFaceTokenizer implements Tokenizer {
    private static final int CHUNK_CHARS = 1 << 13;       // larger calls encode slower per character (docs/data.md)
    private final String json;
    private final int vocabSize;
    private final int eosId;
    private final String[] addedTokens;                   // null: the general path (see the class comment)
    private final int[] addedIds;
    private transient ai.djl.huggingface.tokenizers.HuggingFaceTokenizer nativeTokenizer;
    private transient ThreadLocal<PreTokenCache> preTokenIds;
    private static final int MAX_CACHED_PRE_TOKENS = 200_000;

    /**
     * @param json     the tokenizer.json text
     * @param eosToken the token placed between documents (for example {@code <|endoftext|>} or {@code </s>}),
     *                 or null for none
     */
    public HuggingFaceTokenizer(String json, String eosToken) {
        this.json = json;
        ai.djl.huggingface.tokenizers.HuggingFaceTokenizer t = tokenizer();
        int eos = -1;
        if (eosToken != null) {
            long[] ids = t.encode(eosToken, false, false).getIds();
            if (ids.length != 1) {
                throw new IllegalArgumentException("eos token " + eosToken + " is not a single token of this tokenizer.json");
            }
            eos = (int) ids[0];
        }
        this.eosId = eos;
        com.fasterxml.jackson.databind.JsonNode root = parse(json);
        this.vocabSize = vocabularySize(root);
        if (whyNotCacheable(root) == null) {
            java.util.List<String> contents = new java.util.ArrayList<>();
            java.util.List<Integer> ids = new java.util.ArrayList<>();
            for (var added : root.path("added_tokens")) {
                contents.add(added.path("content").asText());
                ids.add(added.path("id").asInt());
            }
            this.addedTokens = contents.toArray(String[]::new);
            this.addedIds = ids.stream().mapToInt(Integer::intValue).toArray();
        } else {
            this.addedTokens = null;
            this.addedIds = null;
        }
    }

    private static com.fasterxml.jackson.databind.JsonNode parse(String json) {
        try {
            return new com.fasterxml.jackson.databind.ObjectMapper().readTree(json);
        } catch (IOException e) {
            throw new IllegalArgumentException("tokenizer.json is not valid JSON: " + e.getMessage(), e);
        }
    }

    /**
     * Null when a tokenizer.json splits text exactly as GPT-2's pattern ({@link ByteLevel#preTokenEnd}) does, so
     * that its pre-tokens can be encoded and cached one at a time; otherwise what prevents it. Fields the library
     * defaults are read with its defaults ({@code add_prefix_space} true, {@code use_regex} true).
     */
    static String whyNotCacheable(com.fasterxml.jackson.databind.JsonNode root) {
        var normalizer = root.path("normalizer");
        if (!normalizer.isMissingNode() && !normalizer.isNull()) {
            return "it has a normalizer";
        }
        var pre = root.path("pre_tokenizer");
        if (!pre.path("type").asText().equals("ByteLevel") || !pre.path("add_prefix_space").isBoolean()
                || pre.path("add_prefix_space").asBoolean() || !pre.path("use_regex").asBoolean(true)) {
            return "its pre-tokenizer is not ByteLevel with add_prefix_space false and the GPT-2 pattern";
        }
        var model = root.path("model");
        if (!model.path("type").asText().equals("BPE")) {
            return "its model is not BPE";
        }
        if (!model.path("dropout").isMissingNode() && !model.path("dropout").isNull()) {
            return "its BPE has dropout";
        }
        Boolean normalized = null;
        for (var added : root.path("added_tokens")) {
            if (added.path("lstrip").asBoolean() || added.path("rstrip").asBoolean() || added.path("single_word").asBoolean()) {
                return "added token " + added.path("content").asText() + " has strip or single-word rules";
            }
            boolean n = added.path("normalized").asBoolean();
            if (normalized != null && normalized != n) {
                return "its added tokens are matched in two passes (normalized and not)";
            }
            normalized = n;
        }
        return null;
    }

    /** Whether this file is encoded one cached pre-token at a time (see the class comment). */
    public boolean cachesPreTokens() {
        return addedTokens != null;
    }

    private static int vocabularySize(com.fasterxml.jackson.databind.JsonNode root) {
        int max = -1;
        for (var it = root.path("model").path("vocab").elements(); it.hasNext(); ) {
            max = Math.max(max, it.next().asInt());
        }
        for (var added : root.path("added_tokens")) {
            max = Math.max(max, added.path("id").asInt());
        }
        if (max < 0) {
            throw new IllegalArgumentException("tokenizer.json: model.vocab is empty or missing");
        }
        return max + 1;
    }

    public static HuggingFaceTokenizer load(Path file, String eosToken) {
        try {
            return new HuggingFaceTokenizer(Files.readString(file), eosToken);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read tokenizer file " + file, e);
        }
    }

    private synchronized ai.djl.huggingface.tokenizers.HuggingFaceTokenizer tokenizer() {
        if (nativeTokenizer == null) {
            try (var in = new java.io.ByteArrayInputStream(json.getBytes(java.nio.charset.StandardCharsets.UTF_8))) {
                nativeTokenizer = ai.djl.huggingface.tokenizers.HuggingFaceTokenizer.newInstance(in,
                        Map.of("addSpecialTokens", "false", "truncation", "false", "padding", "false"));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            } catch (RuntimeException e) {
                throw new IllegalArgumentException("tokenizer.json cannot be loaded by the Hugging Face tokenizers library: "
                        + e.getMessage(), e);
            }
        }
        return nativeTokenizer;
    }

    public String json() {
        return json;
    }

    @Override
    public String type() {
        return "huggingface";
    }

    @Override
    public int vocabSize() {
        return vocabSize;
    }

    @Override
    public int eosId() {
        return eosId;
    }

    /** Ids of a text, as the library produces them (no special tokens added). */
    public int[] encodeText(String text) {
        // Only the ids cross the binding: Encoding objects also copy every token string, offset and mask.
        var lib = ai.djl.huggingface.tokenizers.jni.TokenizersLibrary.LIB;
        long encoding = lib.encode(tokenizer().getHandle(), text, false);
        long[] ids;
        try {
            ids = lib.getTokenIds(encoding);
        } finally {
            lib.deleteEncoding(encoding);
        }
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            out[i] = (int) ids[i];
        }
        return out;
    }

    @Override
    public Encoder newEncoder(IntConsumer sink) {
        if (cachesPreTokens()) {
            PreTokenCache cache = preTokenCache();
            return AddedTokenSplitter.preTokenEncoder(java.util.List.of(addedTokens), addedIds, (text, start, end) -> {
                if (!cache.emit(text, start, end, sink)) {
                    int[] ids = encodeText(new String(text, start, end - start));
                    cache.put(text, start, end, ids);
                    for (int id : ids) {
                        sink.accept(id);
                    }
                }
            }, sink);
        }
        StringBuilder text = new StringBuilder();
        Utf8Decoder decoder = new Utf8Decoder(text::appendCodePoint);
        return new Encoder() {
            @Override
            public void write(byte[] bytes, int offset, int length) {
                // Slices keep each call into the native library near the chunk size, whatever the caller passes.
                for (int pos = offset; pos < offset + length; pos += CHUNK_CHARS) {
                    decoder.write(bytes, pos, Math.min(CHUNK_CHARS, offset + length - pos));
                    if (text.length() >= CHUNK_CHARS) {
                        int cut = lastLineEndBeforeText(text);
                        if (cut >= 0 || text.length() >= PreTokenStream.MAX_BUFFERED_CHARS) {
                            int end = cut >= 0 ? cut + 1 : text.length();
                            emit(text.substring(0, end));
                            text.delete(0, end);
                        }
                    }
                }
            }

            @Override
            public void finish() {
                decoder.finish();
                emit(text.toString());
                text.setLength(0);
            }

            @Override
            public long replacedSequences() {
                return decoder.replaced();
            }

            private void emit(String chunk) {
                if (!chunk.isEmpty()) {
                    for (int id : encodeText(chunk)) {
                        sink.accept(id);
                    }
                }
            }
        };
    }

    /**
     * The last line break followed by a character that is not whitespace, or −1: a run of whitespace that spans
     * a line break ("\n    " before an indented line) can be one pre-token, so a chunk must not end inside it.
     */
    static int lastLineEndBeforeText(CharSequence text) {
        for (int i = text.length() - 2; i >= 0; i--) {
            if (text.charAt(i) == '\n' && !Character.isWhitespace(text.charAt(i + 1))) {
                return i;
            }
        }
        return -1;
    }

    /** This thread's cache of the library's ids of pre-tokens (one per task thread: lookups take no lock). */
    private synchronized PreTokenCache preTokenCache() {
        if (preTokenIds == null) {
            preTokenIds = ThreadLocal.withInitial(() -> new PreTokenCache(MAX_CACHED_PRE_TOKENS));
        }
        return preTokenIds.get();
    }

    @Override
    public String decode(int[] ids) {
        long[] l = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            l[i] = ids[i];
        }
        return tokenizer().decode(l, false);
    }
}

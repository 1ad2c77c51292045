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
 * <p>Streaming: text is handed to the library in chunks that end at a line break once at least 64 Ki
 * characters are buffered (or at {@link BpeTokenizer#MAX_BUFFERED_CHARS} without one), so a token never
 * spans two chunks unless it spans a line break.
 */
public final class HuggingFaceTokenizer implements Tokenizer {
    private static final int CHUNK_CHARS = 1 << 13;       // larger calls encode slower per character (docs/data.md)
    private final String json;
    private final int vocabSize;
    private final int eosId;
    private transient ai.djl.huggingface.tokenizers.HuggingFaceTokenizer nativeTokenizer;

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
        this.vocabSize = vocabularySize(json);
    }

    private static int vocabularySize(String json) {
        try {
            var root = new com.fasterxml.jackson.databind.ObjectMapper().readTree(json);
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
        } catch (IOException e) {
            throw new IllegalArgumentException("tokenizer.json is not valid JSON: " + e.getMessage(), e);
        }
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
        StringBuilder text = new StringBuilder();
        Utf8Decoder decoder = new Utf8Decoder(text::appendCodePoint);
        return new Encoder() {
            @Override
            public void write(byte[] bytes, int offset, int length) {
                // Slices keep each call into the native library near the chunk size, whatever the caller passes.
                for (int pos = offset; pos < offset + length; pos += CHUNK_CHARS) {
                    decoder.write(bytes, pos, Math.min(CHUNK_CHARS, offset + length - pos));
                    if (text.length() >= CHUNK_CHARS) {
                        int cut = text.lastIndexOf("\n");
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

    @Override
    public String decode(int[] ids) {
        long[] l = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            l[i] = ids[i];
        }
        return tokenizer().decode(l, false);
    }
}

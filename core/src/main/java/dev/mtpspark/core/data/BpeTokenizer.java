package dev.mtpspark.core.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.IntConsumer;

/**
 * Byte-level BPE in GPT-2's form: text is split into pre-tokens by GPT-2's pattern ({@link ByteLevel#preTokenEnd}),
 * each pre-token's UTF-8 bytes start as ids 0–255 and merges apply in rank order; merge r creates id 256 + r; the
 * end-of-text token {@code <|endoftext|>} takes the next id and the user's special tokens the ids after it. These
 * added tokens are found in the text first and encoded whole, and no pre-token spans one, as in Hugging Face
 * tokenizers. Saved as a {@code tokenizer.json} that the Rust tokenizers library loads with identical ids.
 */
public final class BpeTokenizer implements Tokenizer {
    public static final String EOS_TOKEN = "<|endoftext|>";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final int[][] merges;
    private final List<String> specialTokens;
    private transient PairRanks ranks;
    private transient byte[][] tokenBytes;
    private transient ThreadLocal<PreTokenCache> caches;

    /** @param merges merge r joins ids {@code merges[r][0]} and {@code merges[r][1]} into id 256 + r */
    public BpeTokenizer(int[][] merges) {
        this(merges, List.of());
    }

    /**
     * @param specialTokens tokens after {@code <|endoftext|>}, with ids {@code 257 + merges.length + i}
     * @throws IllegalArgumentException naming the token when one is empty, repeated or {@code <|endoftext|>}
     */
    public BpeTokenizer(int[][] merges, List<String> specialTokens) {
        Set<String> seen = new HashSet<>();
        for (String t : specialTokens) {
            if (t == null || t.isEmpty()) {
                throw new IllegalArgumentException("a special token must not be empty");
            }
            if (t.equals(EOS_TOKEN)) {
                throw new IllegalArgumentException("special token " + t + " is already the end-of-text token");
            }
            if (!seen.add(t)) {
                throw new IllegalArgumentException("special token " + t + " is listed twice");
            }
        }
        this.specialTokens = List.copyOf(specialTokens);
        for (int r = 0; r < merges.length; r++) {
            if (merges[r].length != 2 || merges[r][0] < 0 || merges[r][1] < 0 || merges[r][0] >= 256 + r || merges[r][1] >= 256 + r) {
                throw new IllegalArgumentException("merge " + r + " must join two ids below " + (256 + r));
            }
        }
        this.merges = merges.clone();
    }

    private void prepare() {
        if (ranks != null) {
            return;
        }
        byte[][] bytes = new byte[256 + merges.length][];
        for (int b = 0; b < 256; b++) {
            bytes[b] = new byte[] {(byte) b};
        }
        for (int i = 0; i < merges.length; i++) {
            byte[] left = bytes[merges[i][0]];
            byte[] right = bytes[merges[i][1]];
            byte[] joined = java.util.Arrays.copyOf(left, left.length + right.length);
            System.arraycopy(right, 0, joined, left.length, right.length);
            bytes[256 + i] = joined;
        }
        tokenBytes = bytes;
        caches = ThreadLocal.withInitial(() -> new PreTokenCache(100_000));
        ranks = new PairRanks(merges);
    }

    static long pairKey(int left, int right) {
        return ((long) left << 32) | (right & 0xFFFFFFFFL);
    }

    public int mergeCount() {
        return merges.length;
    }

    /** The same merges with these special tokens. */
    public BpeTokenizer withSpecialTokens(List<String> tokens) {
        return new BpeTokenizer(merges, tokens);
    }

    public List<String> specialTokens() {
        return specialTokens;
    }

    /** {@code <|endoftext|>} followed by the special tokens: the added tokens in id order. */
    static List<String> addedTokens(List<String> specialTokens) {
        List<String> all = new ArrayList<>(specialTokens.size() + 1);
        all.add(EOS_TOKEN);
        all.addAll(specialTokens);
        return all;
    }

    @Override
    public String type() {
        return "bpe";
    }

    @Override
    public int vocabSize() {
        return 256 + merges.length + 1 + specialTokens.size();
    }

    @Override
    public int eosId() {
        return 256 + merges.length;
    }

    /** Passes the ids of the pre-token {@code text[start, end)} to {@code sink}. */
    private void encodeWord(PreTokenCache cache, char[] text, int start, int end, IntConsumer sink) {
        if (cache.emit(text, start, end, sink)) {
            return;
        }
        int[] ids = mergedIds(new String(text, start, end - start));
        cache.put(text, start, end, ids);
        for (int id : ids) {
            sink.accept(id);
        }
    }

    /** Ids of one pre-token: its UTF-8 bytes, merged in rank order. */
    private int[] mergedIds(String preToken) {
        byte[] bytes = preToken.getBytes(StandardCharsets.UTF_8);
        int[] symbols = new int[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            symbols[i] = bytes[i] & 0xFF;
        }
        int length = symbols.length;
        while (length > 1) {
            int bestRank = Integer.MAX_VALUE;
            for (int i = 0; i + 1 < length; i++) {
                bestRank = Math.min(bestRank, ranks.rank(symbols[i], symbols[i + 1]));
            }
            if (bestRank == Integer.MAX_VALUE) {
                break;
            }
            length = BpeTrainer.mergeInPlace(symbols, length, merges[bestRank][0], merges[bestRank][1], 256 + bestRank);
        }
        return java.util.Arrays.copyOf(symbols, length);
    }

    @Override
    public Encoder newEncoder(IntConsumer sink) {
        prepare();
        PreTokenCache cache = caches.get();
        List<String> added = addedTokens(specialTokens);
        return AddedTokenSplitter.preTokenEncoder(added,
                java.util.stream.IntStream.range(eosId(), eosId() + added.size()).toArray(),
                (text, start, end) -> encodeWord(cache, text, start, end, sink), sink);
    }

    @Override
    public String decode(int[] ids) {
        prepare();
        StringBuilder sb = new StringBuilder();
        ByteArrayOutputStream run = new ByteArrayOutputStream();
        for (int id : ids) {
            if (id >= eosId() && id < vocabSize()) {
                sb.append(run.toString(StandardCharsets.UTF_8)).append(addedTokens(specialTokens).get(id - eosId()));
                run.reset();
            } else if (id >= 0 && id < tokenBytes.length) {
                run.writeBytes(tokenBytes[id]);
            } else {
                throw new IllegalArgumentException("id " + id + " outside [0, " + vocabSize() + ")");
            }
        }
        return sb.append(run.toString(StandardCharsets.UTF_8)).toString();
    }

    /** The token's string in {@code tokenizer.json} (bytes written with {@link ByteLevel#charOf}). */
    String tokenString(int id) {
        prepare();
        StringBuilder sb = new StringBuilder();
        for (byte b : tokenBytes[id]) {
            sb.append(ByteLevel.charOf(b & 0xFF));
        }
        return sb.toString();
    }

    /** This tokenizer as a Hugging Face {@code tokenizer.json} document. */
    public String toHuggingFaceJson() {
        ObjectNode root = JSON.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        List<String> addedTokens = addedTokens(specialTokens);
        for (int i = 0; i < addedTokens.size(); i++) {
            ObjectNode token = added.addObject();
            token.put("id", eosId() + i);
            token.put("content", addedTokens.get(i));
            token.put("single_word", false);
            token.put("lstrip", false);
            token.put("rstrip", false);
            token.put("normalized", false);
            token.put("special", true);
        }
        root.putNull("normalizer");
        ObjectNode pre = root.putObject("pre_tokenizer");
        pre.put("type", "ByteLevel");
        pre.put("add_prefix_space", false);
        pre.put("trim_offsets", true);
        pre.put("use_regex", true);
        root.putNull("post_processor");
        ObjectNode dec = root.putObject("decoder");
        dec.put("type", "ByteLevel");
        dec.put("add_prefix_space", false);
        dec.put("trim_offsets", true);
        dec.put("use_regex", true);
        ObjectNode model = root.putObject("model");
        model.put("type", "BPE");
        model.putNull("dropout");
        model.putNull("unk_token");
        model.putNull("continuing_subword_prefix");
        model.putNull("end_of_word_suffix");
        model.put("fuse_unk", false);
        model.put("byte_fallback", false);
        ObjectNode vocab = model.putObject("vocab");
        for (int id = 0; id < 256 + merges.length; id++) {
            vocab.put(tokenString(id), id);
        }
        ArrayNode mergeList = model.putArray("merges");
        for (int[] m : merges) {
            mergeList.add(tokenString(m[0]) + " " + tokenString(m[1]));
        }
        try {
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(root);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Reads a {@code tokenizer.json} written by {@link #toHuggingFaceJson}.
     *
     * @throws IllegalArgumentException naming the field when the file is not byte-level BPE in this layout
     *                                  (load other files with {@link HuggingFaceTokenizer})
     */
    public static BpeTokenizer fromHuggingFaceJson(String json) {
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (IOException e) {
            throw new IllegalArgumentException("tokenizer.json is not valid JSON: " + e.getMessage(), e);
        }
        JsonNode model = root.path("model");
        if (!"BPE".equals(model.path("type").asText()) || !"ByteLevel".equals(root.path("pre_tokenizer").path("type").asText())) {
            throw new IllegalArgumentException("tokenizer.json: model.type must be BPE and pre_tokenizer.type ByteLevel "
                    + "for the bpe tokenizer; use the huggingface tokenizer type for other files");
        }
        Map<String, Integer> vocab = new HashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = model.path("vocab").fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            vocab.put(e.getKey(), e.getValue().asInt());
        }
        JsonNode mergeList = model.path("merges");
        int[][] merges = new int[mergeList.size()][];
        for (int r = 0; r < merges.length; r++) {
            JsonNode m = mergeList.get(r);
            String[] parts = m.isArray() ? new String[] {m.get(0).asText(), m.get(1).asText()} : m.asText().split(" ", 2);
            Integer left = parts.length == 2 ? vocab.get(parts[0]) : null;
            Integer right = parts.length == 2 ? vocab.get(parts[1]) : null;
            Integer made = parts.length == 2 ? vocab.get(parts[0] + parts[1]) : null;
            if (left == null || right == null || made == null || made != 256 + r) {
                throw new IllegalArgumentException("tokenizer.json: model.merges[" + r + "] = " + m
                        + " is not merge " + r + " of an mtp-spark byte-level BPE (expected it to create id " + (256 + r)
                        + "); use the huggingface tokenizer type for other files");
            }
            merges[r] = new int[] {left, right};
        }
        List<String> specials = new ArrayList<>();
        JsonNode added = root.path("added_tokens");
        for (int i = 0; i < added.size(); i++) {
            JsonNode token = added.get(i);
            int expectedId = 256 + merges.length + i;
            String content = token.path("content").asText();
            if (token.path("id").asInt(-1) != expectedId || (i == 0) != EOS_TOKEN.equals(content)) {
                throw new IllegalArgumentException("tokenizer.json: added_tokens[" + i + "] = " + token + " is not an mtp-spark "
                        + "byte-level BPE's " + (i == 0 ? EOS_TOKEN : "special token") + " (expected id " + expectedId
                        + "); use the huggingface tokenizer type for other files");
            }
            if (i > 0) {
                specials.add(content);
            }
        }
        BpeTokenizer tokenizer = new BpeTokenizer(merges, specials);
        for (int b = 0; b < 256; b++) {
            Integer id = vocab.get(String.valueOf(ByteLevel.charOf(b)));
            if (id == null || id != b) {
                throw new IllegalArgumentException("tokenizer.json: model.vocab must map the byte character for " + b + " to id " + b);
            }
        }
        return tokenizer;
    }
}

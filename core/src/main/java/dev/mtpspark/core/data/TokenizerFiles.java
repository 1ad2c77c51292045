package dev.mtpspark.core.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;

/**
 * The {@code tokenizer.json} stored with every dataset (and later every checkpoint): for {@code bpe} and
 * {@code huggingface} it is the Hugging Face file itself; for {@code byte} and {@code char} a small JSON
 * object of ours ({@code {"type": "char", "codePoints": [...], "eos": true}}).
 */
public final class TokenizerFiles {
    private static final ObjectMapper JSON = new ObjectMapper();

    private TokenizerFiles() {
    }

    public static String toJson(Tokenizer tokenizer) {
        try {
            if (tokenizer instanceof BpeTokenizer bpe) {
                return bpe.toHuggingFaceJson();
            }
            if (tokenizer instanceof HuggingFaceTokenizer hf) {
                return hf.json();
            }
            if (tokenizer instanceof CharTokenizer c) {
                ObjectNode node = JSON.createObjectNode().put("type", "char");
                var cps = node.putArray("codePoints");
                for (int cp : c.codePoints()) {
                    cps.add(cp);
                }
                node.put("eos", c.eosId() >= 0);
                return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(node);
            }
            if (tokenizer instanceof ByteTokenizer) {
                return JSON.writeValueAsString(JSON.createObjectNode().put("type", "byte"));
            }
            throw new IllegalArgumentException("unknown tokenizer " + tokenizer.getClass().getName());
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Reads a tokenizer of the given type from its file text.
     *
     * @param eosToken for {@code huggingface} only: the token placed between documents, or null
     */
    public static Tokenizer fromJson(String type, String json, String eosToken) {
        return switch (type) {
            case "byte" -> new ByteTokenizer();
            case "bpe" -> BpeTokenizer.fromHuggingFaceJson(json);
            case "huggingface" -> new HuggingFaceTokenizer(json, eosToken);
            case "char" -> {
                try {
                    JsonNode node = JSON.readTree(json);
                    JsonNode cps = node.path("codePoints");
                    int[] codePoints = new int[cps.size()];
                    for (int i = 0; i < codePoints.length; i++) {
                        codePoints[i] = cps.get(i).asInt();
                    }
                    yield new CharTokenizer(codePoints, node.path("eos").asBoolean());
                } catch (IOException e) {
                    throw new IllegalArgumentException("char tokenizer file is not valid JSON: " + e.getMessage(), e);
                }
            }
            default -> throw new IllegalArgumentException("tokenizer type " + type + " is unknown; valid: byte, char, bpe, huggingface");
        };
    }
}

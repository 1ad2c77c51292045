package dev.mtpspark.spark.tokenize;

import dev.mtpspark.core.data.Tokenizer;
import dev.mtpspark.core.data.WindowPacker;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * Encodes the documents of one task and packs them into windows per split. Documents are joined with the
 * tokenizer's EOS. The split of a document is decided by the hash of its key (document-hash split) or, for a
 * single-document corpus, by its character position (nanoGPT's contiguous split: characters before
 * {@code boundary} are training data, the rest validation; each part is encoded on its own).
 */
final class TokenizingHandler implements DocumentHandler {
    private final Tokenizer tokenizer;
    private final double validationFraction;
    private final long boundary;
    private final WindowPacker[] packers = new WindowPacker[2];
    private final TokenizeStats stats;
    private final MessageDigest sha;
    private Tokenizer.Encoder encoder;
    private int split;
    private long characters;

    /**
     * @param boundary character index where validation starts (contiguous split), or −1 for the
     *                 document-hash split
     */
    TokenizingHandler(Tokenizer tokenizer, double validationFraction, long boundary, int contextLength,
                      int predictedTokens, WindowShardWriter[] writers, TokenizeStats stats) {
        this.tokenizer = tokenizer;
        this.validationFraction = validationFraction;
        this.boundary = boundary;
        this.stats = stats;
        for (int s = 0; s < 2; s++) {
            int index = s;
            packers[s] = new WindowPacker(contextLength, predictedTokens, writers[index]::write);
        }
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Deterministic split of a document key: its SHA-256 as a fraction in [0, 1). */
    int splitOf(String key) {
        byte[] h = sha.digest(key.getBytes(StandardCharsets.UTF_8));
        long v = 0;
        for (int i = 0; i < 8; i++) {
            v = (v << 8) | (h[i] & 0xFF);
        }
        double u = (v >>> 11) * 0x1.0p-53;
        return u < validationFraction ? TokenizeStats.VALIDATION : TokenizeStats.TRAIN;
    }

    @Override
    public void startDocument(String key) {
        split = boundary >= 0 ? (boundary == 0 ? TokenizeStats.VALIDATION : TokenizeStats.TRAIN) : splitOf(key);
        characters = 0;
        begin();
    }

    private void begin() {
        WindowPacker packer = packers[split];
        encoder = tokenizer.newEncoder(packer);
        stats.documents[split]++;
    }

    @Override
    public void bytes(byte[] data, int offset, int length) {
        if (boundary > 0 && split == TokenizeStats.TRAIN) {
            // Find where the boundary character starts inside this run, if it does.
            for (int i = offset; i < offset + length; i++) {
                if ((data[i] & 0xC0) != 0x80 && characters++ == boundary) {
                    encoder.write(data, offset, i - offset);
                    end();
                    split = TokenizeStats.VALIDATION;
                    begin();
                    encoder.write(data, i, offset + length - i);
                    return;
                }
            }
        }
        encoder.write(data, offset, length);
    }

    @Override
    public void endDocument() {
        end();
    }

    private void end() {
        encoder.finish();
        stats.replacedUtf8Sequences += encoder.replacedSequences();
        stats.unknownCharacters += encoder.unknownCharacters();
        if (tokenizer.eosId() >= 0) {
            packers[split].accept(tokenizer.eosId());
        }
    }

    /** Records the token and window counts; call once after the last document. */
    void finish() {
        for (int s = 0; s < 2; s++) {
            stats.tokens[s] += packers[s].tokens();
            stats.windows[s] += packers[s].windows();
            stats.tailTokens[s] += packers[s].tailTokens();
        }
    }
}

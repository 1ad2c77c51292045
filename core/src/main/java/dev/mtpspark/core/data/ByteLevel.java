package dev.mtpspark.core.data;

import java.util.regex.Pattern;

/**
 * The byte-level conventions of GPT-2 and Hugging Face's {@code ByteLevel} pre-tokenizer: the regular
 * expression that splits text into pre-tokens, and the reversible map of the 256 bytes to printable
 * characters used to write byte-level tokens as strings in {@code tokenizer.json}.
 */
public final class ByteLevel {
    /** GPT-2's split pattern, as Hugging Face's ByteLevel pre-tokenizer applies it ({@code use_regex: true}). */
    public static final Pattern PRE_TOKEN = Pattern.compile(
            "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
            Pattern.UNICODE_CHARACTER_CLASS);

    private static final char[] BYTE_TO_CHAR = new char[256];
    private static final int[] CHAR_TO_BYTE = new int[512];

    static {
        java.util.Arrays.fill(CHAR_TO_BYTE, -1);
        int next = 256;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
            char c = (char) (printable ? b : next++);
            BYTE_TO_CHAR[b] = c;
            CHAR_TO_BYTE[c] = b;
        }
    }

    private ByteLevel() {
    }

    /** The printable character that stands for byte {@code b} (0–255) in token strings. */
    public static char charOf(int b) {
        return BYTE_TO_CHAR[b];
    }

    /** The byte a token-string character stands for, or −1. */
    public static int byteOf(char c) {
        return c < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[c] : -1;
    }
}

package dev.mtpspark.core.data;

/**
 * The byte-level conventions of GPT-2 and Hugging Face's {@code ByteLevel} pre-tokenizer: how text splits into
 * pre-tokens, and the reversible map of the 256 bytes to printable characters used to write byte-level tokens as
 * strings in {@code tokenizer.json}.
 * <p>
 * The split is GPT-2's regular expression, as Hugging Face's ByteLevel pre-tokenizer applies it
 * ({@code use_regex: true}): {@code 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+}
 * with Unicode classes. {@link #preTokenEnd} scans it by hand, a class lookup per character, because the regex
 * engine's backtracking was a third of the BPE encoder's time; the tests hold the regex as the oracle.
 */
public final class ByteLevel {
    private static final byte OTHER = 0;
    private static final byte LETTER = 1;
    private static final byte NUMBER = 2;
    private static final byte SPACE = 3;
    private static final byte[] ASCII_CLASS = new byte[128];

    private static final char[] BYTE_TO_CHAR = new char[256];
    private static final int[] CHAR_TO_BYTE = new int[512];

    static {
        for (int c = 0; c < 128; c++) {
            ASCII_CLASS[c] = classOfSlow(c);
        }
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

    /**
     * End (exclusive) of the pre-token that starts at {@code start} in {@code text[start, end)}: where the GPT-2
     * pattern's match from {@code start} ends, the text ending at {@code end}. Every character belongs to a pre-token,
     * so the next one starts there.
     */
    public static int preTokenEnd(char[] text, int start, int end) {
        char c = text[start];
        if (c == '\'' && start + 1 < end) {               // 's 't 'm 'd 're 've 'll
            char a = text[start + 1];
            if (a == 's' || a == 't' || a == 'm' || a == 'd') {
                return start + 2;
            }
            if (start + 2 < end) {
                char b = text[start + 2];
                if ((a == 'r' || a == 'v') && b == 'e' || a == 'l' && b == 'l') {
                    return start + 3;
                }
            }
        }
        int i = start;
        int cls = classAt(text, i, end);
        if (c == ' ' && i + 1 < end) {                      // the optional leading space of a word, number or symbols
            int next = classAt(text, i + 1, end);
            if (next != SPACE) {
                i++;
                cls = next;
            }
        }
        if (cls != SPACE) {                                 // \p{L}+, \p{N}+ or [^\s\p{L}\p{N}]+
            do {
                i += Character.isHighSurrogate(text[i]) && i + 1 < end && Character.isLowSurrogate(text[i + 1]) ? 2 : 1;
            } while (i < end && classAt(text, i, end) == cls);
            return i;
        }
        do {                                                // whitespace is one character each
            i++;
        } while (i < end && classAt(text, i, end) == SPACE);
        // \s+(?!\S): a run followed by more text leaves its last character to the next pre-token, unless the run is
        // a single character (then \s+ takes it).
        return i < end && i - start > 1 ? i - 1 : i;
    }

    private static int classAt(char[] text, int i, int end) {
        char c = text[i];
        if (c < 128) {
            return ASCII_CLASS[c];
        }
        int cp = Character.isHighSurrogate(c) && i + 1 < end && Character.isLowSurrogate(text[i + 1])
                ? Character.toCodePoint(c, text[i + 1]) : c;
        return classOfSlow(cp);
    }

    /**
     * The character's class under the pattern: \p{L}, \p{N}, \s (with Unicode classes: White_Space, as
     * java.util.regex defines it) or none of them.
     */
    private static byte classOfSlow(int cp) {
        int type = Character.getType(cp);
        if (type == Character.SPACE_SEPARATOR || type == Character.LINE_SEPARATOR
                || type == Character.PARAGRAPH_SEPARATOR || cp >= 0x9 && cp <= 0xd || cp == 0x85) {
            return SPACE;
        }
        if (Character.isLetter(cp)) {
            return LETTER;
        }
        if (type == Character.DECIMAL_DIGIT_NUMBER || type == Character.LETTER_NUMBER
                || type == Character.OTHER_NUMBER) {
            return NUMBER;
        }
        return OTHER;
    }

    /** The byte a token-string character stands for, or −1. */
    public static int byteOf(char c) {
        return c < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[c] : -1;
    }
}

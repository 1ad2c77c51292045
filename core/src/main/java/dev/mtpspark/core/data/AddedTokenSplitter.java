package dev.mtpspark.core.data;

import java.util.List;
import java.util.function.IntConsumer;

/**
 * Finds a tokenizer's added tokens ({@code <|endoftext|>} and user special tokens) in a stream of code points, as
 * Hugging Face tokenizers does before pre-tokenization: the leftmost, then longest, occurrence wins; the text
 * between occurrences goes on to the ordinary encoder, which is finished at each occurrence so that no pre-token
 * (and therefore no merge) spans one. Holds back only a prefix that could still become a token.
 */
final class AddedTokenSplitter {
    private final String[] tokens;
    private final int[] ids;
    private final IntConsumer text;
    private final Runnable textBoundary;
    private final IntConsumer tokenIds;
    private char[] pending = new char[16];      // characters that could still start a token
    private int pendingLength;
    private final boolean[] startsToken = new boolean[128];
    private final boolean nonAsciiStart;

    /**
     * @param tokens       the added tokens; token i has id {@code firstId + i}
     * @param text         receives the code points of ordinary text
     * @param textBoundary called before each token id, and at the end
     * @param tokenIds     receives the id of each occurrence
     */
    AddedTokenSplitter(List<String> tokens, int firstId, IntConsumer text, Runnable textBoundary, IntConsumer tokenIds) {
        this(tokens, java.util.stream.IntStream.range(firstId, firstId + tokens.size()).toArray(), text, textBoundary, tokenIds);
    }

    /** As above, token i having id {@code ids[i]}. */
    AddedTokenSplitter(List<String> tokens, int[] ids, IntConsumer text, Runnable textBoundary, IntConsumer tokenIds) {
        if (ids.length != tokens.size()) {
            throw new IllegalArgumentException(tokens.size() + " added tokens but " + ids.length + " ids");
        }
        this.tokens = tokens.toArray(String[]::new);
        this.ids = ids.clone();
        this.text = text;
        this.textBoundary = textBoundary;
        this.tokenIds = tokenIds;
        boolean nonAscii = false;
        for (String t : this.tokens) {
            char c = t.charAt(0);
            if (c < 128) {
                startsToken[c] = true;
            } else {
                nonAscii = true;
            }
        }
        this.nonAsciiStart = nonAscii;
    }

    /**
     * The streaming encoder of byte-level BPE: added tokens first, then {@link PreTokenStream}'s pre-tokens, each
     * passed to {@code encodePreToken}, which sends its ids to {@code sink} (our merges, or the Hugging Face
     * library's cached answer).
     */
    static Tokenizer.Encoder preTokenEncoder(List<String> tokens, int[] ids, PreTokenStream.Sink encodePreToken,
                                             IntConsumer sink) {
        PreTokenStream preTokens = new PreTokenStream(encodePreToken);
        AddedTokenSplitter added = new AddedTokenSplitter(tokens, ids, preTokens::append, preTokens::finish, sink);
        return new CodePointEncoder(added::append, added::finish);
    }

    void append(int codePoint) {
        if (pendingLength == 0 && (codePoint < 128 ? !startsToken[codePoint] : !nonAsciiStart)) {
            text.accept(codePoint);               // the common case: nothing could start here
            return;
        }
        if (pendingLength + 2 > pending.length) {
            pending = java.util.Arrays.copyOf(pending, pending.length * 2);
        }
        pendingLength += Character.toChars(codePoint, pending, pendingLength);
        drain(false);
    }

    void finish() {
        drain(true);
        textBoundary.run();
    }

    private void drain(boolean atEnd) {
        while (pendingLength > 0) {
            if (!atEnd && couldGrow()) {
                return;
            }
            int longest = -1;
            for (int i = 0; i < tokens.length; i++) {
                if (startsWithToken(i) && (longest < 0 || tokens[i].length() > tokens[longest].length())) {
                    longest = i;
                }
            }
            if (longest >= 0) {
                textBoundary.run();
                tokenIds.accept(ids[longest]);
                dropPending(tokens[longest].length());
            } else {
                int cp = Character.codePointAt(pending, 0, pendingLength);
                text.accept(cp);
                dropPending(Character.charCount(cp));
            }
        }
    }

    /** Whether more text could make {@code pending} the start of a token longer than it. */
    private boolean couldGrow() {
        for (String t : tokens) {
            if (t.length() > pendingLength && pendingStartsLike(t, pendingLength)) {
                return true;
            }
        }
        return false;
    }

    /** Whether the first {@code n} characters of {@code pending} are those of {@code t}. */
    private boolean pendingStartsLike(String t, int n) {
        for (int k = 0; k < n; k++) {
            if (pending[k] != t.charAt(k)) {
                return false;
            }
        }
        return true;
    }

    private void dropPending(int n) {
        System.arraycopy(pending, n, pending, 0, pendingLength - n);
        pendingLength -= n;
    }

    private boolean startsWithToken(int i) {
        return tokens[i].length() <= pendingLength && pendingStartsLike(tokens[i], tokens[i].length());
    }
}

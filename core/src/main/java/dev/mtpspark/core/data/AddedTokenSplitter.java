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
    private final StringBuilder pending = new StringBuilder();
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
     * turned into ids by {@code idsOfPreToken} (our merges, or the Hugging Face library's cached answer).
     */
    static Tokenizer.Encoder preTokenEncoder(List<String> tokens, int[] ids,
                                             java.util.function.Function<String, int[]> idsOfPreToken, IntConsumer sink) {
        PreTokenStream preTokens = new PreTokenStream(preToken -> {
            for (int id : idsOfPreToken.apply(preToken)) {
                sink.accept(id);
            }
        });
        AddedTokenSplitter added = new AddedTokenSplitter(tokens, ids, preTokens::append, preTokens::finish, sink);
        return new CodePointEncoder(added::append, added::finish);
    }

    void append(int codePoint) {
        if (pending.length() == 0 && (codePoint < 128 ? !startsToken[codePoint] : !nonAsciiStart)) {
            text.accept(codePoint);               // the common case: nothing could start here
            return;
        }
        pending.appendCodePoint(codePoint);
        drain(false);
    }

    void finish() {
        drain(true);
        textBoundary.run();
    }

    private void drain(boolean atEnd) {
        while (pending.length() > 0) {
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
                pending.delete(0, tokens[longest].length());
            } else {
                int cp = pending.codePointAt(0);
                text.accept(cp);
                pending.delete(0, Character.charCount(cp));
            }
        }
    }

    /** Whether more text could make {@code pending} the start of a token longer than it. */
    private boolean couldGrow() {
        for (String t : tokens) {
            if (t.length() > pending.length() && t.startsWith(pending.toString())) {
                return true;
            }
        }
        return false;
    }

    private boolean startsWithToken(int i) {
        String t = tokens[i];
        if (t.length() > pending.length()) {
            return false;
        }
        for (int k = 0; k < t.length(); k++) {
            if (pending.charAt(k) != t.charAt(k)) {
                return false;
            }
        }
        return true;
    }
}

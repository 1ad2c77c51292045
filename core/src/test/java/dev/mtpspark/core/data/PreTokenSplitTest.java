package dev.mtpspark.core.data;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The hand-written pre-token scanner against its oracle, GPT-2's pattern as Hugging Face's ByteLevel pre-tokenizer
 * applies it, run by java.util.regex with Unicode classes.
 */
class PreTokenSplitTest {
    private static final Pattern GPT2 = Pattern.compile(
            "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
            Pattern.UNICODE_CHARACTER_CLASS);

    /** Letters, numbers, every kind of white space, symbols, contractions' letters, surrogate pairs, a lone surrogate. */
    private static final String[] PIECES = {
        "a", "Z", "é", "中", "\uD835\uDC9C", "s", "t", "r", "e", "v", "l", "m", "d", "S", "ll", "re",
        "1", "²", "Ⅻ", "٣", "0",
        " ", " ", " ", "\t", "\n", "\r", "\u000B", "\u000C", "\u0085", "\u00A0", "\u2028", "\u2029", "\u3000", "\u1680",
        "\u200B", "'", "'", "\"", ".", "(", "<", "_", "-", "\uD83D\uDE00", "\uD800", "\u00AD",
    };

    private static List<String> regexSplit(String text) {
        List<String> out = new ArrayList<>();
        Matcher m = GPT2.matcher(text);
        int expected = 0;
        while (m.find()) {
            assertEquals(expected, m.start(), "the pattern covers every character of " + text);
            out.add(m.group());
            expected = m.end();
        }
        assertEquals(text.length(), expected);
        return out;
    }

    private static List<String> scannerSplit(String text) {
        char[] chars = text.toCharArray();
        List<String> out = new ArrayList<>();
        for (int start = 0; start < chars.length; ) {
            int end = ByteLevel.preTokenEnd(chars, start, chars.length);
            out.add(text.substring(start, end));
            start = end;
        }
        return out;
    }

    private static List<String> streamSplit(String text) {
        List<String> out = new ArrayList<>();
        PreTokenStream stream = new PreTokenStream((chars, start, end) -> out.add(new String(chars, start, end - start)));
        text.codePoints().forEach(stream::append);
        stream.finish();
        return out;
    }

    private static String randomText(Random random, int pieces) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < pieces; i++) {
            sb.append(PIECES[random.nextInt(PIECES.length)]);
        }
        return sb.toString();
    }

    @Test
    void scannerSplitsAsThePatternOnRandomText() {
        Random random = new Random(11);
        for (int i = 0; i < 30_000; i++) {
            String text = randomText(random, 1 + random.nextInt(40));
            assertEquals(regexSplit(text), scannerSplit(text), () -> "text: " + text.codePoints()
                    .mapToObj(Integer::toHexString).toList());
        }
    }

    @Test
    void scannerSplitsAsThePatternOnCodeAndProse() {
        String text = "public static <T> List<T> of(T... xs) { // don't we'll they're I've I'm he'd\n"
                + "    return   xs.length == 0 ? List.of() : new ArrayList<>(Arrays.asList(xs));\n\n\t}\r\n"
                + "Ça coûte 12,50 € — 3² = 9; 中文 text ٣٤ Ⅻ\u00A0\u00A0nbsp 'S 's ''s  '  \n  \n";
        assertEquals(regexSplit(text), scannerSplit(text));
    }

    @Test
    void streamingEqualsSplittingTheWholeTextAcrossFlushes() {
        Random random = new Random(5);
        StringBuilder sb = new StringBuilder();
        while (sb.length() < 600_000) {                  // several flushes of 64 Ki characters, runs of every class
            sb.append(randomText(random, 1 + random.nextInt(30)));
            if (random.nextInt(50) == 0) {
                sb.append(" ".repeat(random.nextInt(5000)));
            }
            if (random.nextInt(80) == 0) {
                sb.append("x".repeat(random.nextInt(70_000)));
            }
        }
        String text = sb.toString();
        assertEquals(regexSplit(text), streamSplit(text));
    }

    @Test
    void aRunLongerThanTheBufferIsCutEveryMaxBufferedChars() {
        int max = PreTokenStream.MAX_BUFFERED_CHARS;
        // " " + a…a + a surrogate pair is one letter run of max + 1 characters: cut after the pair, not inside it.
        String run = "a".repeat(max - 2) + "\uD835\uDC9C" + "b".repeat(max + 10);
        List<String> tokens = streamSplit(" x " + run + " y");
        assertEquals(" x", tokens.get(0));
        assertEquals(" " + "a".repeat(max - 2) + "\uD835\uDC9C", tokens.get(1));
        assertEquals(List.of("b".repeat(max), "b".repeat(10), " y"), tokens.subList(2, 5));
        assertEquals(5, tokens.size());
    }
}

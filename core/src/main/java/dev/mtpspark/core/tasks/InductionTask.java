package dev.mtpspark.core.tasks;

import dev.mtpspark.core.data.Tokenizer;
import dev.mtpspark.core.generate.Warp;
import dev.mtpspark.core.model.Decoder;
import dev.mtpspark.core.model.MtpModel;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Induction (Gloeckle et al. 2024, §4.1): short stories in which random capitalized names recur. A name's first
 * letter is unpredictable, but once it appears again the rest of it can only be predicted by copying from its
 * earlier occurrence, which is what induction heads do. The score is head 1's teacher-forced top-1 accuracy on
 * those letters (every letter of a later occurrence after its first), reported apart from the ordinary loss.
 * Documents are deterministic in the seed; names in one story start with different letters, so a copy is never
 * ambiguous, and a story fits in {@code maxChars} characters, so its first occurrences are always in context.
 */
public final class InductionTask {
    private static final String[] SUBJECTS = {"the dog", "a cat", "the old man", "my friend", "the teacher", "a bird",
            "the baker", "her sister", "the king", "a child"};
    private static final String[] VERBS = {"saw", "met", "called", "helped", "followed", "thanked", "waited for",
            "talked to", "found", "visited"};
    private static final String[] PLACES = {"at the market", "near the river", "in the garden", "by the door",
            "on the hill", "at school", "in the woods", "at home"};
    private static final String CONSONANTS = "bcdfghjklmnprstvz";
    private static final String VOWELS = "aeiou";

    /** One story and the character offsets whose prediction needs a copy. */
    public record Document(String text, int[] copyOffsets) {
    }

    private InductionTask() {
    }

    /**
     * {@code count} stories of at most {@code maxChars} characters, each with two or three names that occur two to
     * four times.
     */
    public static List<Document> documents(long seed, int count, int maxChars) {
        if (maxChars < 120) {
            throw new IllegalArgumentException("maxChars = " + maxChars + " is too short for a story (at least 120)");
        }
        Random r = new Random(seed);
        List<Document> docs = new ArrayList<>(count);
        while (docs.size() < count) {
            Document d = story(r, maxChars);
            if (d != null) {
                docs.add(d);
            }
        }
        return docs;
    }

    private static Document story(Random r, int maxChars) {
        int nameCount = 2 + r.nextInt(2);
        List<String> names = new ArrayList<>();
        StringBuilder initials = new StringBuilder();
        while (names.size() < nameCount) {
            String name = name(r);
            if (initials.indexOf(name.substring(0, 1)) < 0) {
                initials.append(name.charAt(0));
                names.add(name);
            }
        }
        int[] remaining = new int[nameCount];
        for (int i = 0; i < nameCount; i++) {
            remaining[i] = 2 + r.nextInt(3);
        }
        StringBuilder text = new StringBuilder();
        List<Integer> copies = new ArrayList<>();
        boolean[] seen = new boolean[nameCount];
        while (true) {
            List<Integer> open = new ArrayList<>();
            for (int i = 0; i < nameCount; i++) {
                if (remaining[i] > 0) {
                    open.add(i);
                }
            }
            if (open.isEmpty()) {
                break;
            }
            int who = open.get(r.nextInt(open.size()));
            String sentence;
            int at;
            String name = names.get(who);
            if (r.nextBoolean()) {
                String prefix = pick(r, SUBJECTS) + " " + pick(r, VERBS) + " ";
                sentence = prefix + name + " " + pick(r, PLACES) + ". ";
                at = prefix.length();
            } else {
                sentence = name + " " + pick(r, VERBS) + " " + pick(r, SUBJECTS) + " " + pick(r, PLACES) + ". ";
                at = 0;
            }
            if (text.length() + sentence.length() > maxChars) {
                return null;                          // too long: draw another story
            }
            if (seen[who]) {
                for (int k = 1; k < name.length(); k++) {
                    copies.add(text.length() + at + k);
                }
            }
            seen[who] = true;
            remaining[who]--;
            text.append(sentence);
        }
        String s = text.toString().stripTrailing();
        return new Document(s, copies.stream().mapToInt(Integer::intValue).toArray());
    }

    /** A pronounceable random name of 5–7 letters, capitalized: consonant-vowel syllables. */
    private static String name(Random r) {
        int length = 5 + r.nextInt(3);
        StringBuilder b = new StringBuilder();
        for (int i = 0; b.length() < length; i++) {
            String from = i % 2 == 0 ? CONSONANTS : VOWELS;
            b.append(from.charAt(r.nextInt(from.length())));
        }
        b.setCharAt(0, Character.toUpperCase(b.charAt(0)));
        return b.toString();
    }

    private static String pick(Random r, String[] options) {
        return options[r.nextInt(options.length)];
    }

    /** The corpus the tokenize job reads: one story per paragraph (text mode {@code paragraph}). */
    public static String corpus(long seed, int count, int maxChars) {
        StringBuilder b = new StringBuilder();
        for (Document d : documents(seed, count, maxChars)) {
            b.append(d.text()).append("\n\n");
        }
        return b.toString();
    }

    /**
     * Head 1's teacher-forced accuracy on the copy offsets of {@code docs}, each story read from its start with
     * the end-of-text id before it where the tokenizer has one (as in training, where stories follow one another).
     *
     * @throws IllegalArgumentException when the tokenizer does not give one id per character (byte or char
     *                                  tokenizers on this ASCII text do), or a story does not fit the model's context
     */
    public static Score score(MtpModel model, Tokenizer tokenizer, List<Document> docs) {
        Decoder decoder = model.decoder(1);
        long correct = 0;
        long total = 0;
        int eos = tokenizer.eosId();
        int shift = eos >= 0 ? 1 : 0;
        for (Document d : docs) {
            int[] ids = tokenizer.encode(d.text().getBytes(java.nio.charset.StandardCharsets.UTF_8));
            if (ids.length != d.text().length()) {
                throw new IllegalArgumentException("induction scoring needs one id per character (byte or char tokenizer); "
                        + tokenizer.type() + " gave " + ids.length + " ids for " + d.text().length() + " characters");
            }
            int[] input = new int[ids.length + shift];
            if (shift == 1) {
                input[0] = eos;
            }
            System.arraycopy(ids, 0, input, shift, ids.length);
            if (input.length > decoder.capacity()) {
                throw new IllegalArgumentException("a story of " + input.length + " tokens does not fit the context of "
                        + decoder.capacity());
            }
            // logits[p] (after input[0..p]) predicts input[p + 1].
            float[][] logits = new float[input.length][];
            logits[0] = decoder.prefill(new int[] {input[0]});
            float[][] rest = decoder.appendAll(java.util.Arrays.copyOfRange(input, 1, input.length));
            System.arraycopy(rest, 0, logits, 1, rest.length);
            for (int offset : d.copyOffsets()) {
                int target = offset + shift;
                total++;
                if (Warp.argmax(logits[target - 1]) == input[target]) {
                    correct++;
                }
            }
        }
        return new Score(correct, total);
    }

    /** Correct predictions of copy letters out of {@code total}. */
    public record Score(long correct, long total) {
        public double accuracy() {
            return total == 0 ? Double.NaN : (double) correct / total;
        }
    }
}

package dev.mtpspark.core.tasks;

import dev.mtpspark.core.config.HeadArchitecture;
import dev.mtpspark.core.config.MtpModelConfig;
import dev.mtpspark.core.data.ByteTokenizer;
import dev.mtpspark.core.data.CharTokenizer;
import dev.mtpspark.core.data.Tokenizer;
import dev.mtpspark.core.model.MtpModel;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.NoOp;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class SyntheticTasksTest {

    @Test
    void inductionStoriesAreDeterministicFitAndMarkExactlyTheCopiedLetters() {
        List<InductionTask.Document> docs = InductionTask.documents(3, 300, 200);
        assertEquals(InductionTask.corpus(3, 300, 200), InductionTask.corpus(3, 300, 200));
        assertNotEquals(InductionTask.corpus(3, 50, 200), InductionTask.corpus(4, 50, 200));
        for (InductionTask.Document d : docs) {
            String t = d.text();
            assertTrue(t.length() <= 200 && !t.contains("\n"), t);
            // Independently: every capitalized word that occurred before contributes its letters after the first.
            List<Integer> expected = new ArrayList<>();
            List<String> seen = new ArrayList<>();
            for (int i = 0; i < t.length(); i++) {
                if (Character.isUpperCase(t.charAt(i)) && (i == 0 || t.charAt(i - 1) == ' ')) {
                    int end = i;
                    while (end < t.length() && Character.isLetter(t.charAt(end))) {
                        end++;
                    }
                    String name = t.substring(i, end);
                    if (seen.contains(name)) {
                        for (int k = i + 1; k < end; k++) {
                            expected.add(k);
                        }
                    } else {
                        assertTrue(seen.stream().noneMatch(s -> s.charAt(0) == name.charAt(0)), "one name per first letter: " + t);
                        seen.add(name);
                    }
                }
            }
            assertArrayEquals(expected.stream().mapToInt(Integer::intValue).toArray(), d.copyOffsets(), t);
            assertTrue(d.copyOffsets().length >= 4, "every story has later occurrences: " + t);
        }
    }

    @Test
    void inductionScoreEqualsAFullForwardPassOnTheCopiedLetters() {
        List<InductionTask.Document> docs = InductionTask.documents(11, 6, 120);
        byte[] all = InductionTask.corpus(11, 6, 120).getBytes(StandardCharsets.UTF_8);
        CharTokenizer chars = new CharTokenizer(CharTokenizer.codePointsOf(all), true);
        MtpModel model = MtpModel.create(MtpModelConfig.builder().vocabSize(chars.vocabSize()).contextLength(128)
                .modelWidth(16).attentionHeads(2).trunkDepth(1).mlpWidth(32).predictedTokens(2)
                .headArchitecture(HeadArchitecture.PARALLEL).initStd(0.5).seed(5).build(), new NoOp(), DataType.FLOAT);
        long correct = 0;
        long total = 0;
        for (InductionTask.Document d : docs) {
            int[] ids = chars.encode(d.text().getBytes(StandardCharsets.UTF_8));
            int[] input = new int[ids.length + 1];
            input[0] = chars.eosId();
            System.arraycopy(ids, 0, input, 1, ids.length);
            double[][][] features = new double[1][1][128];
            for (int p = 0; p < input.length; p++) {
                features[0][0][p] = input[p];
            }
            INDArray logits = model.logits(Nd4j.create(features).castTo(DataType.FLOAT)).slice(0).slice(0);
            for (int offset : d.copyOffsets()) {
                total++;
                if (logits.slice(offset).argMax().getInt(0) == input[offset + 1]) {
                    correct++;
                }
            }
        }
        InductionTask.Score s = InductionTask.score(model, chars, docs);
        assertEquals(total, s.total());
        assertEquals(correct, s.correct());

        Tokenizer bytes = new ByteTokenizer();
        var e = assertThrows(IllegalArgumentException.class, () -> InductionTask.score(model, bytes,
                List.of(new InductionTask.Document("Zé ate. Zé ate.", new int[] {9}))));
        assertTrue(e.getMessage().contains("one id per character"), e.getMessage());
    }

    @Test
    void polynomialAnswersMatchAnIndependentEvaluator() {
        assertEquals("3x^3+x^2+5x+4", PolynomialTask.format(new int[] {4, 5, 1, 3, 0}));
        assertEquals("0", PolynomialTask.format(new int[5]));
        assertEquals("x^4+1", PolynomialTask.format(new int[] {1, 0, 0, 0, 1}));
        List<PolynomialTask.Problem> problems = PolynomialTask.problems(9, 2000, 1, 6);
        assertEquals(problems, PolynomialTask.problems(9, 2000, 1, 6));
        int[] opsSeen = new int[7];
        for (PolynomialTask.Problem p : problems) {
            assertTrue(p.prompt().endsWith("="));
            assertEquals(p.ops(), p.prompt().chars().filter(c -> c == '*').count() + countTopLevelPlus(p.prompt()), p.line());
            assertEquals(p.answer(), render(evaluate(p.prompt().substring(0, p.prompt().length() - 1))), p.line());
            opsSeen[p.ops()]++;
        }
        for (int ops = 1; ops <= 6; ops++) {
            assertTrue(opsSeen[ops] > 200, "ops " + ops + " drawn " + opsSeen[ops] + " times");
        }
        assertThrows(IllegalArgumentException.class, () -> PolynomialTask.problems(1, 1, 0, 2));
    }

    @Test
    void polynomialExactMatchCountsEveryProblemOnce() {
        byte[] all = PolynomialTask.corpus(2, 200, 1, 3).getBytes(StandardCharsets.UTF_8);
        CharTokenizer chars = new CharTokenizer(CharTokenizer.codePointsOf(all), true);
        MtpModel model = MtpModel.create(MtpModelConfig.builder().vocabSize(chars.vocabSize()).contextLength(96)
                .modelWidth(16).attentionHeads(2).trunkDepth(1).mlpWidth(32).predictedTokens(1)
                .headArchitecture(HeadArchitecture.PARALLEL).initStd(0.5).seed(5).build(), new NoOp(), DataType.FLOAT);
        List<PolynomialTask.Problem> problems = PolynomialTask.problems(77, 30, 1, 5);
        long[][] c = PolynomialTask.exactMatch(model, chars, problems);
        long total = 0;
        for (int ops = 1; ops <= 5; ops++) {
            total += c[1][ops];
            assertTrue(c[0][ops] <= c[1][ops]);
            final int k = ops;
            assertEquals(problems.stream().filter(p -> p.ops() == k).count(), c[1][ops]);
        }
        assertEquals(30, total);
        var e = assertThrows(IllegalArgumentException.class, () -> PolynomialTask.exactMatch(model,
                new CharTokenizer(CharTokenizer.codePointsOf(all), false), problems));
        assertTrue(e.getMessage().contains("end-of-text id"), e.getMessage());
    }

    /** The number of operations written as '+' or '*' between the top-level parenthesized terms. */
    private static long countTopLevelPlus(String prompt) {
        long n = 0;
        int depth = 0;
        for (char ch : prompt.toCharArray()) {
            if (ch == '(') depth++;
            else if (ch == ')') depth--;
            else if (ch == '+' && depth == 0) n++;
        }
        return n;
    }

    // An independent evaluator: a recursive-descent parser over the written expression, coefficients as longs
    // reduced at the end, products truncated at x^5.
    private static long[] evaluate(String expr) {
        int[] pos = {0};
        long[] sum = new long[5];
        while (pos[0] < expr.length()) {
            long[] product = factor(expr, pos);
            while (pos[0] < expr.length() && expr.charAt(pos[0]) == '*') {
                pos[0]++;
                long[] f = factor(expr, pos);
                long[] r = new long[5];
                for (int i = 0; i < 5; i++) for (int j = 0; i + j < 5; j++) r[i + j] += product[i] * f[j];
                for (int i = 0; i < 5; i++) r[i] %= 7;
                product = r;
            }
            for (int i = 0; i < 5; i++) sum[i] += product[i];
            if (pos[0] < expr.length()) {
                assertEquals('+', expr.charAt(pos[0]++));
            }
        }
        for (int i = 0; i < 5; i++) sum[i] %= 7;
        return sum;
    }

    private static long[] factor(String expr, int[] pos) {
        assertEquals('(', expr.charAt(pos[0]++));
        int end = expr.indexOf(')', pos[0]);
        long[] p = new long[5];
        for (String term : expr.substring(pos[0], end).split("\\+")) {
            int x = term.indexOf('x');
            long coef = x == 0 ? 1 : Long.parseLong(x < 0 ? term : term.substring(0, x));
            int degree = x < 0 ? 0 : term.contains("^") ? Integer.parseInt(term.substring(term.indexOf('^') + 1)) : 1;
            p[degree] += coef;
        }
        pos[0] = end + 1;
        return p;
    }

    private static String render(long[] p) {
        StringBuilder b = new StringBuilder();
        for (int d = 4; d >= 0; d--) {
            if (p[d] == 0) continue;
            if (b.length() > 0) b.append('+');
            b.append(p[d] == 1 && d > 0 ? "" : Long.toString(p[d])).append(d == 0 ? "" : d == 1 ? "x" : "x^" + d);
        }
        return b.length() == 0 ? "0" : b.toString();
    }
}

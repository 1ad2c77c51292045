package dev.mtpspark.core.tasks;

import dev.mtpspark.core.data.Tokenizer;
import dev.mtpspark.core.generate.TextSampler;
import dev.mtpspark.core.model.MtpModel;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * Polynomial arithmetic in the spirit of Gloeckle et al. 2024, §4.2 (Fig. 8): expressions of small polynomials over
 * the integers modulo 7, truncated at x⁵ (the ring F₇[x]/(x⁵)), with {@code ops} sums and products, written as one
 * line {@code (3x+1)*(x^2+4)+(2x)=3x^3+x^2+5x+4}. Products bind before sums. The score is the exact-match rate of
 * the answer under greedy decoding from the text up to {@code =}, for the numbers of operations seen in training
 * and for more. Deterministic in the seed.
 */
public final class PolynomialTask {
    public static final int MODULUS = 7;
    public static final int DEGREES = 5;                 // coefficients of x^0 … x^4

    /** One problem: the prompt up to and including {@code =}, and the answer. */
    public record Problem(String prompt, String answer, int ops) {
        public String line() {
            return prompt + answer;
        }
    }

    private PolynomialTask() {
    }

    /** {@code count} problems with a number of operations drawn uniformly from {@code minOps..maxOps}. */
    public static List<Problem> problems(long seed, int count, int minOps, int maxOps) {
        if (minOps < 1 || maxOps < minOps) {
            throw new IllegalArgumentException("operations must satisfy 1 ≤ minOps ≤ maxOps, got " + minOps + ".." + maxOps);
        }
        Random r = new Random(seed);
        List<Problem> out = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            out.add(problem(r, minOps + r.nextInt(maxOps - minOps + 1)));
        }
        return out;
    }

    static Problem problem(Random r, int ops) {
        StringBuilder text = new StringBuilder();
        int[] sum = new int[DEGREES];
        int[] product = null;
        for (int i = 0; i <= ops; i++) {
            int[] p = randomPolynomial(r);
            if (i > 0) {
                boolean times = r.nextBoolean();
                text.append(times ? '*' : '+');
                if (!times) {
                    add(sum, product);
                    product = null;
                }
            }
            text.append('(').append(format(p)).append(')');
            product = product == null ? p : multiply(product, p);
        }
        add(sum, product);
        return new Problem(text.append('=').toString(), format(sum), ops);
    }

    private static int[] randomPolynomial(Random r) {
        int[] p = new int[DEGREES];
        int terms = 1 + r.nextInt(2);
        for (int t = 0; t < terms; t++) {
            p[r.nextInt(3)] = 1 + r.nextInt(MODULUS - 1);     // degree ≤ 2, non-zero coefficient
        }
        return p;
    }

    static void add(int[] into, int[] p) {
        for (int d = 0; d < DEGREES; d++) {
            into[d] = (into[d] + p[d]) % MODULUS;
        }
    }

    static int[] multiply(int[] a, int[] b) {
        int[] c = new int[DEGREES];
        for (int i = 0; i < DEGREES; i++) {
            for (int j = 0; i + j < DEGREES; j++) {
                c[i + j] = (c[i + j] + a[i] * b[j]) % MODULUS;
            }
        }
        return c;
    }

    /** Highest degree first, zero terms left out, a coefficient of 1 written only for the constant; "0" if zero. */
    static String format(int[] p) {
        StringBuilder b = new StringBuilder();
        for (int d = DEGREES - 1; d >= 0; d--) {
            if (p[d] == 0) {
                continue;
            }
            if (b.length() > 0) {
                b.append('+');
            }
            if (p[d] != 1 || d == 0) {
                b.append(p[d]);
            }
            if (d >= 1) {
                b.append('x');
            }
            if (d >= 2) {
                b.append('^').append(d);
            }
        }
        return b.length() == 0 ? "0" : b.toString();
    }

    /** The corpus the tokenize job reads: one problem per line (text mode {@code line}). */
    public static String corpus(long seed, int count, int minOps, int maxOps) {
        StringBuilder b = new StringBuilder();
        for (Problem p : problems(seed, count, minOps, maxOps)) {
            b.append(p.line()).append('\n');
        }
        return b.toString();
    }

    /**
     * Greedy exact-match rate per number of operations: each prompt is decoded from the end-of-text id (the
     * document boundary in training) and the prompt's ids, until the end-of-text id or {@code 2 × answer} ids.
     *
     * @return correct and total counts indexed by the number of operations
     */
    public static long[][] exactMatch(MtpModel model, Tokenizer tokenizer, List<Problem> problems) {
        int eos = tokenizer.eosId();
        if (eos < 0) {
            throw new IllegalArgumentException("polynomial scoring needs a tokenizer with an end-of-text id (a corpus of many "
                    + "lines); " + tokenizer.type() + " has none");
        }
        int maxOps = problems.stream().mapToInt(Problem::ops).max().orElse(0);
        long[][] counts = new long[2][maxOps + 1];
        TextSampler sampler = new TextSampler(model);
        for (Problem p : problems) {
            int[] ids = tokenizer.encode(p.prompt().getBytes(StandardCharsets.UTF_8));
            int[] prompt = new int[ids.length + 1];
            prompt[0] = eos;
            System.arraycopy(ids, 0, prompt, 1, ids.length);
            int[] answerIds = tokenizer.encode(p.answer().getBytes(StandardCharsets.UTF_8));
            int[] out = sampler.generate(prompt, 2 * answerIds.length + 2, 0, 0, new Random(0), eos);
            int end = out.length > 0 && out[out.length - 1] == eos ? out.length - 1 : -1;
            boolean right = end == answerIds.length && Arrays.equals(Arrays.copyOf(out, end), answerIds);
            counts[1][p.ops()]++;
            if (right) {
                counts[0][p.ops()]++;
            }
        }
        return counts;
    }
}

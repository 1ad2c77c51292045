package dev.mtpspark.core.kernels;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;

import java.util.List;
import java.util.function.DoubleSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The two {@link Kernels} implementations against each other on random operands (double precision, and one float
 * case), and each kernel family of both against a plain-Java computation written here (finite differences for the
 * backward passes), so that a disagreement says which side is wrong.
 */
class KernelsTest {
    static final int CONTEXT = 8;
    static final int HEAD_WIDTH = 4;
    private static final int HEADS = 3;
    private static final int D = HEADS * HEAD_WIDTH;
    private static final double TOLERANCE = 1e-10;
    /** Central differences in double: truncation ~h², rounding ~1e-16 / h. */
    private static final double STEP = 1e-5;
    private static final double FD_TOLERANCE = 1e-7;
    private static final double GELU_C = 2.0 * Math.sqrt(2.0 / Math.PI);

    private final Kernels nd4j = new Nd4jKernels(DataType.DOUBLE, CONTEXT, HEAD_WIDTH);
    private final Kernels nd4jFloat = new Nd4jKernels(DataType.FLOAT, CONTEXT, HEAD_WIDTH);
    private final Kernels cpu = cpuKernels();

    /** The CPU kernels with every exponential vectorised through ND4J (the test sizes are small). */
    Kernels cpuKernels() {
        return new CpuKernels(CONTEXT, HEAD_WIDTH, 0);
    }

    @BeforeEach
    void seed() {
        Nd4j.getRandom().setSeed(20240611);
    }

    // ------------------------------------------------------------------ helpers

    /** An operation under test on its operands; returns its scalar result (or 0). */
    @FunctionalInterface
    private interface Op {
        double run(Kernels kernels, DenseMatrix[] operands);
    }

    /** Uniform in [−scale, scale). */
    private static DenseMatrix random(DataType type, long length, double scale) {
        DenseMatrix m = DenseMatrix.allocate(type, length);
        m.array().assign(Nd4j.rand(type, length).subi(0.5).muli(2 * scale));
        return m;
    }

    private static DenseMatrix random(long length) {
        return random(DataType.DOUBLE, length, 1);
    }

    private static DenseMatrix copyOf(DenseMatrix m) {
        if (m == null) {
            return null;
        }
        DenseMatrix copy = DenseMatrix.allocate(m.array().dataType(), m.length());
        copy.array().assign(m.array());
        return copy;
    }

    private static DenseMatrix[] copies(DenseMatrix[] ms) {
        DenseMatrix[] copies = new DenseMatrix[ms.length];
        for (int i = 0; i < ms.length; i++) {
            copies[i] = copyOf(ms[i]);
        }
        return copies;
    }

    private static double[] values(DenseMatrix m) {
        double[] v = new double[m.length()];
        for (int i = 0; i < v.length; i++) {
            v[i] = m.get(i);
        }
        return v;
    }

    private static void assertClose(String what, double expected, double actual, double tolerance) {
        if (Double.compare(expected, actual) == 0) {
            return;   // equal, or both NaN / the same infinity
        }
        double scale = Math.max(1, Math.max(Math.abs(expected), Math.abs(actual)));
        assertTrue(Math.abs(expected - actual) <= tolerance * scale, what + ": expected " + expected + ", got " + actual);
    }

    private static void assertClose(String what, double[] expected, DenseMatrix actual, double tolerance) {
        assertEquals(expected.length, actual.length(), what + ": length");
        for (int i = 0; i < expected.length; i++) {
            assertClose(what + " [" + i + "]", expected[i], actual.get(i), tolerance);
        }
    }

    /**
     * Runs {@code op} with the ND4J kernels on {@code operands} and with the CPU kernels on copies of them, and
     * asserts that every operand (inputs too: nothing else may be written) and the scalar results agree.
     */
    private void assertAgree(String what, Op op, DenseMatrix... operands) {
        boolean single = operands[0].array().dataType() == DataType.FLOAT;
        double tolerance = single ? 1e-4 : TOLERANCE;
        DenseMatrix[] cpuOperands = copies(operands);
        double cpuResult = op.run(cpu, cpuOperands);
        double nd4jResult = op.run(single ? nd4jFloat : nd4j, operands);
        assertClose(what + ": result", cpuResult, nd4jResult, tolerance);
        for (int i = 0; i < operands.length; i++) {
            if (operands[i] != null) {
                assertClose(what + ": operand " + i, values(cpuOperands[i]), operands[i], tolerance);
            }
        }
    }

    /** Both implementations, for the plain-Java checks. */
    private List<Kernels> both() {
        return List.of(nd4j, cpu);
    }

    private static String name(Kernels kernels) {
        return kernels.getClass().getSimpleName();
    }

    /** {@code ∂loss/∂m[i]} by central differences. */
    private static double derivative(DoubleSupplier loss, DenseMatrix m, int i) {
        double v = m.get(i);
        m.set(i, v + STEP);
        double plus = loss.getAsDouble();
        m.set(i, v - STEP);
        double minus = loss.getAsDouble();
        m.set(i, v);
        return (plus - minus) / (2 * STEP);
    }

    private static double dot(double[] a, DenseMatrix b) {
        double sum = 0;
        for (int i = 0; i < a.length; i++) {
            sum += a[i] * b.get(i);
        }
        return sum;
    }

    // ------------------------------------------------------------------ products and biases

    @Test
    void gemmAgreesWithTransposesOffsetsAndLeadingDimensions() {
        int m = 5;
        int n = 4;
        int k = 3;
        for (boolean transA : new boolean[] {false, true}) {
            for (boolean transB : new boolean[] {false, true}) {
                for (double beta : new double[] {0, 1, -0.3}) {
                    int lda = (transA ? m : k) + 2;
                    int ldb = (transB ? k : n) + 1;
                    int ldc = n + 3;
                    DenseMatrix a = random(3 + (long) (transA ? k : m) * lda);
                    DenseMatrix b = random(1 + (long) (transB ? n : k) * ldb);
                    DenseMatrix c = random(2 + (long) m * ldc);
                    assertAgree("gemm " + transA + " " + transB + " beta " + beta, (kernels, x) -> {
                        kernels.gemm(transA, transB, m, n, k, 0.7, x[0], 3, lda, x[1], 1, ldb, beta, x[2], 2, ldc);
                        return 0;
                    }, a, b, c);
                }
            }
        }
    }

    @Test
    void gemmMatchesPlainProduct() {
        int m = 4;
        int n = 3;
        int k = 5;
        int ldc = n + 2;
        for (Kernels kernels : both()) {
            for (double beta : new double[] {0, 0.5}) {
                DenseMatrix a = random((long) k * m);          // stored [k, m], used transposed
                DenseMatrix b = random((long) k * n);
                DenseMatrix c = random(1 + (long) m * ldc);
                double[] expected = values(c);
                for (int i = 0; i < m; i++) {
                    for (int j = 0; j < n; j++) {
                        double sum = 0;
                        for (int p = 0; p < k; p++) {
                            sum += a.get(p * m + i) * b.get(p * n + j);
                        }
                        int at = 1 + i * ldc + j;
                        expected[at] = 1.5 * sum + (beta == 0 ? 0 : beta * expected[at]);
                    }
                }
                if (beta == 0) {
                    for (int i = 0; i < m; i++) {
                        for (int j = 0; j < n; j++) {
                            c.set(1 + i * ldc + j, Double.NaN);   // beta = 0 ignores C, as in BLAS
                        }
                    }
                }
                kernels.gemm(true, false, m, n, k, 1.5, a, 0, m, b, 0, n, beta, c, 1, ldc);
                assertClose(name(kernels) + " gemm beta " + beta, expected, c, TOLERANCE);
            }
        }
    }

    @Test
    void biasAndColumnSumsAgreeAndMatchPlainSums() {
        int rows = 6;
        int width = 5;
        assertAgree("addBias", (kernels, x) -> {
            kernels.addBias(x[0], rows, width, x[1]);
            return 0;
        }, random((long) rows * width), random(width));
        assertAgree("addColumnSums", (kernels, x) -> {
            kernels.addColumnSums(x[0], rows, width, x[1]);
            return 0;
        }, random((long) rows * width), random(width));
        for (Kernels kernels : both()) {
            DenseMatrix out = random((long) rows * width);
            DenseMatrix bias = random(width);
            DenseMatrix target = random(width);
            double[] biased = values(out);
            double[] sums = values(target);
            for (int r = 0; r < rows; r++) {
                for (int j = 0; j < width; j++) {
                    biased[r * width + j] += bias.get(j);
                    sums[j] += out.get(r * width + j);
                }
            }
            kernels.addColumnSums(out, rows, width, target);
            assertClose(name(kernels) + " addColumnSums", sums, target, TOLERANCE);
            kernels.addBias(out, rows, width, bias);
            assertClose(name(kernels) + " addBias", biased, out, TOLERANCE);
        }
    }

    // ------------------------------------------------------------------ norms

    @Test
    void normsAgreeForwardAndBackward() {
        int rows = 5;
        for (boolean centred : new boolean[] {true, false}) {
            for (boolean accumulate : new boolean[] {false, true}) {
                String what = (centred ? "LayerNorm" : "RMSNorm") + (accumulate ? " accumulating" : "");
                DenseMatrix x = random(DataType.DOUBLE, (long) rows * D, 2);
                DenseMatrix gain = random(D);
                DenseMatrix bias = centred ? random(D) : null;
                DenseMatrix hat = random((long) rows * D);
                DenseMatrix rstd = random(rows);
                DenseMatrix out = random((long) rows * D);
                assertAgree(what + " forward", (kernels, m) -> {
                    kernels.normForward(m[0], rows, D, m[1], m[2], 1e-5, m[3], m[4], m[5]);
                    return 0;
                }, x, gain, bias, hat, rstd, out);
                DenseMatrix dy = random((long) rows * D);
                DenseMatrix gainGrad = random(D);
                DenseMatrix biasGrad = centred ? random(D) : null;
                DenseMatrix dx = random((long) rows * D);
                assertAgree(what + " backward", (kernels, m) -> {
                    kernels.normForward(m[0], rows, D, m[1], m[2], 1e-5, m[3], m[4], m[5]);
                    kernels.normBackward(m[6], m[3], m[4], rows, D, m[1], centred, m[7], m[8], m[9], accumulate);
                    return 0;
                }, x, gain, bias, hat, rstd, out, dy, gainGrad, biasGrad, dx);
            }
        }
    }

    /** Plain-Java LayerNorm ({@code bias} not null) or RMSNorm of the rows of x. */
    private static double[] plainNorm(DenseMatrix x, int rows, int d, DenseMatrix gain, DenseMatrix bias, double eps) {
        double[] out = new double[rows * d];
        for (int r = 0; r < rows; r++) {
            double mean = 0;
            if (bias != null) {
                for (int j = 0; j < d; j++) {
                    mean += x.get(r * d + j) / d;
                }
            }
            double variance = 0;
            for (int j = 0; j < d; j++) {
                double c = x.get(r * d + j) - mean;
                variance += c * c / d;
            }
            for (int j = 0; j < d; j++) {
                double hat = (x.get(r * d + j) - mean) / Math.sqrt(variance + eps);
                out[r * d + j] = hat * gain.get(j) + (bias == null ? 0 : bias.get(j));
            }
        }
        return out;
    }

    @Test
    void normsMatchPlainNormAndItsFiniteDifferences() {
        int rows = 4;
        double eps = 1e-5;
        for (Kernels kernels : both()) {
            for (boolean centred : new boolean[] {true, false}) {
                String what = name(kernels) + (centred ? " LayerNorm" : " RMSNorm");
                DenseMatrix x = random(DataType.DOUBLE, (long) rows * D, 2);
                DenseMatrix gain = random(D);
                DenseMatrix bias = centred ? random(D) : null;
                DenseMatrix hat = random((long) rows * D);
                DenseMatrix rstd = random(rows);
                DenseMatrix out = random((long) rows * D);
                kernels.normForward(x, rows, D, gain, bias, eps, hat, rstd, out);
                assertClose(what + " forward", plainNorm(x, rows, D, gain, bias, eps), out, TOLERANCE);

                double[] dy = values(random((long) rows * D));
                DenseMatrix dyMatrix = DenseMatrix.allocate(DataType.DOUBLE, dy.length);
                for (int i = 0; i < dy.length; i++) {
                    dyMatrix.set(i, dy[i]);
                }
                DenseMatrix gainGrad = DenseMatrix.allocate(DataType.DOUBLE, D);
                gainGrad.zero();
                DenseMatrix biasGrad = centred ? DenseMatrix.allocate(DataType.DOUBLE, D) : null;
                if (biasGrad != null) {
                    biasGrad.zero();
                }
                DenseMatrix dx = random((long) rows * D);
                kernels.normBackward(dyMatrix, hat, rstd, rows, D, gain, centred, gainGrad, biasGrad, dx, false);
                DoubleSupplier loss = () -> {
                    double[] y = plainNorm(x, rows, D, gain, bias, eps);
                    double sum = 0;
                    for (int i = 0; i < y.length; i++) {
                        sum += y[i] * dy[i];
                    }
                    return sum;
                };
                for (int i = 0; i < rows * D; i++) {
                    assertClose(what + " dx [" + i + "]", derivative(loss, x, i), dx.get(i), FD_TOLERANCE);
                }
                for (int j = 0; j < D; j++) {
                    assertClose(what + " gain gradient [" + j + "]", derivative(loss, gain, j), gainGrad.get(j), FD_TOLERANCE);
                    if (centred) {
                        assertClose(what + " bias gradient [" + j + "]", derivative(loss, bias, j), biasGrad.get(j), FD_TOLERANCE);
                    }
                }
            }
        }
    }

    // ------------------------------------------------------------------ GELU

    @Test
    void geluAgreesBothWays() {
        int count = 37;
        DenseMatrix u = random(DataType.DOUBLE, count, 3);
        assertAgree("gelu forward", (kernels, m) -> {
            kernels.geluForward(m[0], m[1], m[2], count);
            return 0;
        }, u, random(count), random(count));
        assertAgree("gelu backward", (kernels, m) -> {
            kernels.geluForward(m[0], m[1], m[2], count);
            kernels.geluBackward(m[0], m[1], m[3], count);
            return 0;
        }, u, random(count), random(count), random(count));
    }

    private static double plainGelu(double u) {
        return 0.5 * u * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (u + 0.044715 * u * u * u)));
    }

    @Test
    void geluMatchesTanhFormAndItsDerivative() {
        int count = 29;
        for (Kernels kernels : both()) {
            DenseMatrix u = random(DataType.DOUBLE, count, 4);
            DenseMatrix sigmoid = random(count);
            DenseMatrix out = random(count);
            DenseMatrix grad = random(count);
            double[] upstream = values(grad);
            kernels.geluForward(u, sigmoid, out, count);
            kernels.geluBackward(u, sigmoid, grad, count);
            for (int i = 0; i < count; i++) {
                double x = u.get(i);
                String what = name(kernels) + " gelu at " + x;
                assertClose(what, plainGelu(x), out.get(i), TOLERANCE);
                assertClose(what + " sigmoid", 1 / (1 + Math.exp(-GELU_C * (x + 0.044715 * x * x * x))), sigmoid.get(i), TOLERANCE);
                double slope = (plainGelu(x + STEP) - plainGelu(x - STEP)) / (2 * STEP);
                assertClose(what + " derivative", upstream[i] * slope, grad.get(i), FD_TOLERANCE);
            }
        }
    }

    // ------------------------------------------------------------------ attention

    /** The weights and merged output ({@code [sequences · queries, heads · headWidth]}) of causal attention, in plain Java. */
    private record Attention(double[] probs, double[] out) {
    }

    private static Attention plainAttention(int sequences, int queries, int keys, int kvRows,
                                            DenseMatrix q, int qOff, int qLd, DenseMatrix k, int kOff,
                                            DenseMatrix v, int vOff, int kvLd) {
        double[] probs = new double[sequences * HEADS * queries * keys];
        double[] out = new double[sequences * queries * D];
        double scale = 1 / Math.sqrt(HEAD_WIDTH);
        for (int s = 0; s < sequences; s++) {
            for (int h = 0; h < HEADS; h++) {
                for (int i = 0; i < queries; i++) {
                    int visible = keys - queries + i + 1;
                    double[] scores = new double[visible];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < visible; j++) {
                        double sum = 0;
                        for (int c = 0; c < HEAD_WIDTH; c++) {
                            sum += q.get(qOff + (s * queries + i) * qLd + h * HEAD_WIDTH + c)
                                    * k.get(kOff + (s * kvRows + j) * kvLd + h * HEAD_WIDTH + c);
                        }
                        scores[j] = sum * scale;
                        max = Math.max(max, scores[j]);
                    }
                    double total = 0;
                    for (int j = 0; j < visible; j++) {
                        scores[j] = Math.exp(scores[j] - max);
                        total += scores[j];
                    }
                    int row = ((s * HEADS + h) * queries + i) * keys;
                    for (int j = 0; j < visible; j++) {
                        probs[row + j] = scores[j] / total;
                        for (int c = 0; c < HEAD_WIDTH; c++) {
                            out[(s * queries + i) * D + h * HEAD_WIDTH + c] +=
                                    probs[row + j] * v.get(vOff + (s * kvRows + j) * kvLd + h * HEAD_WIDTH + c);
                        }
                    }
                }
            }
        }
        return new Attention(probs, out);
    }

    /** Training attention: queries = keys = kvRows = T, Q, K, V the column blocks of {@code qkv [S·T, 3d]}. */
    private static void trainingForward(Kernels kernels, int sequences, int t, DenseMatrix qkv, DenseMatrix probs,
                                        DenseMatrix out, int outLd) {
        kernels.attentionForward(sequences, t, t, t, HEADS, HEAD_WIDTH, qkv, 0, 3 * D, qkv, D, qkv, 2 * D, 3 * D,
                probs, out, outLd);
    }

    @Test
    void attentionForwardAgreesInTrainingAndCacheCases() {
        int sequences = 2;
        int t = CONTEXT;
        int outLd = D + 2;
        assertAgree("attention, training", (kernels, m) -> {
            trainingForward(kernels, sequences, t, m[0], m[1], m[2], outLd);
            return 0;
        }, random(DataType.DOUBLE, (long) sequences * t * 3 * D, 2), random((long) sequences * HEADS * t * t),
                random((long) sequences * t * outLd));
        // A KV cache: fewer queries than keys, cache rows beyond the keys, K and V in matrices of their own.
        int kvRows = CONTEXT;
        for (int[] shape : new int[][] {{3, 6}, {1, 5}, {4, CONTEXT}}) {
            int queries = shape[0];
            int keys = shape[1];
            assertAgree("attention, " + queries + " queries over " + keys + " cached keys", (kernels, m) -> {
                kernels.attentionForward(sequences, queries, keys, kvRows, HEADS, HEAD_WIDTH, m[0], D, 3 * D,
                        m[1], 0, m[2], 0, D, m[3], m[4], D);
                return 0;
            }, random(DataType.DOUBLE, (long) sequences * queries * 3 * D, 2), random(DataType.DOUBLE, (long) sequences * kvRows * D, 2),
                    random((long) sequences * kvRows * D), random((long) sequences * HEADS * queries * keys),
                    random((long) sequences * queries * D));
        }
    }

    /** As TransformerBlock.forwardCached: a weights buffer sized for the whole context, longer than the weights. */
    @Test
    void cachedAttentionAcceptsAWeightsBufferForTheWholeContext() {
        int queries = 2;
        int keys = 5;
        assertAgree("attention into a longer weights buffer", (kernels, m) -> {
            kernels.attentionForward(1, queries, keys, CONTEXT, HEADS, HEAD_WIDTH, m[0], 0, 3 * D, m[1], 0, m[2], 0, D,
                    m[3], m[4], D);
            return 0;
        }, random((long) queries * 3 * D), random((long) CONTEXT * D), random((long) CONTEXT * D),
                random((long) queries * HEADS * CONTEXT), random((long) queries * D));
    }

    @Test
    void attentionMatchesPlainSoftmaxWithExactZerosWhereMasked() {
        int sequences = 2;
        int queries = 3;
        int keys = 7;
        int kvRows = CONTEXT;
        for (Kernels kernels : both()) {
            DenseMatrix q = random(DataType.DOUBLE, (long) sequences * queries * D, 2);
            DenseMatrix k = random(DataType.DOUBLE, (long) sequences * kvRows * 2 * D, 2);   // K then V in each row
            DenseMatrix probs = random((long) sequences * HEADS * queries * keys);
            DenseMatrix out = random((long) sequences * queries * D);
            kernels.attentionForward(sequences, queries, keys, kvRows, HEADS, HEAD_WIDTH, q, 0, D, k, 0, k, D, 2 * D,
                    probs, out, D);
            Attention expected = plainAttention(sequences, queries, keys, kvRows, q, 0, D, k, 0, k, D, 2 * D);
            String what = name(kernels) + " attention";
            assertClose(what + " weights", expected.probs(), probs, TOLERANCE);
            assertClose(what + " output", expected.out(), out, TOLERANCE);
            for (int row = 0; row < sequences * HEADS * queries; row++) {
                int visible = keys - queries + row % queries + 1;
                double sum = 0;
                for (int j = 0; j < keys; j++) {
                    double p = probs.get(row * keys + j);
                    if (j >= visible) {
                        assertEquals(0.0, p, what + ": masked weight " + row + ", " + j + " is not exactly 0");
                    }
                    sum += p;
                }
                assertClose(what + ": row " + row + " sums to 1", 1, sum, 1e-12);
            }
        }
    }

    @Test
    void attentionBackwardAgrees() {
        int sequences = 2;
        int t = CONTEXT;
        long rows = (long) sequences * t;
        assertAgree("attention backward", (kernels, m) -> {
            trainingForward(kernels, sequences, t, m[0], m[1], m[2], D);
            kernels.attentionBackward(sequences, t, HEADS, HEAD_WIDTH, m[0], m[1], m[3], m[4]);
            return 0;
        }, random(DataType.DOUBLE, rows * 3 * D, 2), random((long) sequences * HEADS * t * t), random(rows * D),
                random(rows * D), random(rows * 3 * D));
    }

    @Test
    void attentionBackwardMatchesFiniteDifferences() {
        int sequences = 2;
        int t = 5;
        int rows = sequences * t;
        for (Kernels kernels : both()) {
            DenseMatrix qkv = random(DataType.DOUBLE, (long) rows * 3 * D, 2);
            DenseMatrix probs = random((long) sequences * HEADS * t * t);
            DenseMatrix out = random((long) rows * D);
            DenseMatrix dOut = random((long) rows * D);
            DenseMatrix dQkv = random((long) rows * 3 * D);   // garbage: must be overwritten
            trainingForward(kernels, sequences, t, qkv, probs, out, D);
            kernels.attentionBackward(sequences, t, HEADS, HEAD_WIDTH, qkv, probs, dOut, dQkv);
            double[] upstream = values(dOut);
            DoubleSupplier loss = () -> {
                double[] y = plainAttention(sequences, t, t, t, qkv, 0, 3 * D, qkv, D, qkv, 2 * D, 3 * D).out();
                double sum = 0;
                for (int i = 0; i < y.length; i++) {
                    sum += y[i] * upstream[i];
                }
                return sum;
            };
            for (int i = 0; i < rows * 3 * D; i++) {
                assertClose(name(kernels) + " dQkv [" + i + "]", derivative(loss, qkv, i), dQkv.get(i), FD_TOLERANCE);
            }
        }
    }

    // ------------------------------------------------------------------ rotary embedding

    @Test
    void rotationAgreesForwardAndInverse() {
        int rows = 10;
        int ld = 3 * D + 1;
        for (boolean inverse : new boolean[] {false, true}) {
            assertAgree("rotate, inverse " + inverse, (kernels, m) -> {
                kernels.rotate(m[0], 2, ld, rows, HEADS, 1, 4, inverse);
                return 0;
            }, random(DataType.DOUBLE, 2 + (long) rows * ld, 2));
            assertAgree("rotate training rows, inverse " + inverse, (kernels, m) -> {
                kernels.rotate(m[0], D, 3 * D, 2 * CONTEXT, HEADS, 0, CONTEXT, inverse);
                return 0;
            }, random((long) 2 * CONTEXT * 3 * D));
        }
    }

    @Test
    void rotationMatchesRotateHalfFormulaAndInverts() {
        int rows = 9;
        int ld = D + 3;
        int off = 1;
        int first = 2;
        int period = 5;
        int half = HEAD_WIDTH / 2;
        for (Kernels kernels : both()) {
            DenseMatrix x = random(off + (long) rows * ld);
            double[] original = values(x);
            double[] expected = original.clone();
            for (int r = 0; r < rows; r++) {
                int position = first + r % period;
                for (int h = 0; h < HEADS; h++) {
                    for (int i = 0; i < half; i++) {
                        double angle = position * Math.pow(10000, -2.0 * i / HEAD_WIDTH);
                        int at = off + r * ld + h * HEAD_WIDTH + i;
                        double x1 = original[at];
                        double x2 = original[at + half];
                        expected[at] = x1 * Math.cos(angle) - x2 * Math.sin(angle);
                        expected[at + half] = x2 * Math.cos(angle) + x1 * Math.sin(angle);
                    }
                }
            }
            kernels.rotate(x, off, ld, rows, HEADS, first, period, false);
            assertClose(name(kernels) + " rotation", expected, x, TOLERANCE);
            kernels.rotate(x, off, ld, rows, HEADS, first, period, true);
            assertClose(name(kernels) + " inverse of the rotation", original, x, TOLERANCE);
        }
    }

    // ------------------------------------------------------------------ loss

    private static final int[] LABELS = {3, 0, 6, 3, 1};

    @Test
    void crossEntropyAgreesOnLossAndGradient() {
        int vocab = 7;
        assertAgree("cross-entropy", (kernels, m) -> kernels.crossEntropy(m[0], LABELS.length, vocab, LABELS, 0.37),
                random(DataType.DOUBLE, (long) LABELS.length * vocab, 3));
    }

    @Test
    void crossEntropyMatchesPlainLogSoftmax() {
        int vocab = 7;
        int rows = LABELS.length;
        double coefficient = 0.37;
        for (Kernels kernels : both()) {
            DenseMatrix logits = random(DataType.DOUBLE, (long) rows * vocab, 3);
            double loss = 0;
            double[] gradient = new double[rows * vocab];
            for (int r = 0; r < rows; r++) {
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < vocab; j++) {
                    max = Math.max(max, logits.get(r * vocab + j));
                }
                double total = 0;
                for (int j = 0; j < vocab; j++) {
                    total += Math.exp(logits.get(r * vocab + j) - max);
                }
                double logNormaliser = max + Math.log(total);
                loss -= coefficient * (logits.get(r * vocab + LABELS[r]) - logNormaliser);
                for (int j = 0; j < vocab; j++) {
                    double p = Math.exp(logits.get(r * vocab + j) - logNormaliser);
                    gradient[r * vocab + j] = coefficient * (p - (j == LABELS[r] ? 1 : 0));
                }
            }
            assertClose(name(kernels) + " loss", loss, kernels.crossEntropy(logits, rows, vocab, LABELS, coefficient), TOLERANCE);
            assertClose(name(kernels) + " gradient", gradient, logits, TOLERANCE);
        }
    }

    // ------------------------------------------------------------------ element-wise and rows

    @Test
    void elementWiseAndCopyAgree() {
        int count = 23;
        assertAgree("multiply", (kernels, m) -> {
            kernels.multiply(m[0], m[1], m[2], count);
            return 0;
        }, random(count + 3), random(count + 3), random(count + 3));
        assertAgree("multiply in place", (kernels, m) -> {
            kernels.multiply(m[0], m[1], m[0], count);
            return 0;
        }, random(count), random(count));
        assertAgree("add", (kernels, m) -> {
            kernels.add(m[0], m[1], count);
            return 0;
        }, random(count + 2), random(count + 2));
        assertAgree("copy strided", (kernels, m) -> {
            kernels.copy(m[0], 3, 7, m[1], 1, 6, 4, 5);
            return 0;
        }, random(3 + 4 * 7), random(1 + 4 * 6));
        assertAgree("copy contiguous", (kernels, m) -> {
            kernels.copy(m[0], 2, 5, m[1], 4, 5, 3, 5);
            return 0;
        }, random(2 + 3 * 5), random(4 + 3 * 5 + 2));
    }

    @Test
    void elementWiseAndCopyMatchPlainJava() {
        for (Kernels kernels : both()) {
            DenseMatrix x = random(12);
            DenseMatrix y = random(12);
            DenseMatrix out = random(12);
            double[] expectedProduct = values(out);
            double[] expectedSum = values(x);
            for (int i = 0; i < 10; i++) {
                expectedProduct[i] = x.get(i) * y.get(i);
                expectedSum[i] += y.get(i);
            }
            kernels.multiply(x, y, out, 10);
            assertClose(name(kernels) + " multiply", expectedProduct, out, TOLERANCE);
            kernels.add(x, y, 10);
            assertClose(name(kernels) + " add", expectedSum, x, TOLERANCE);

            DenseMatrix src = random(2 + 3 * 6);
            DenseMatrix dst = random(1 + 3 * 5);
            double[] expectedCopy = values(dst);
            for (int r = 0; r < 3; r++) {
                for (int j = 0; j < 4; j++) {
                    expectedCopy[1 + r * 5 + j] = src.get(2 + r * 6 + j);
                }
            }
            kernels.copy(src, 2, 6, dst, 1, 5, 3, 4);
            assertClose(name(kernels) + " copy", expectedCopy, dst, TOLERANCE);
        }
    }

    private static final int[] IDS = {4, 1, 4, 0, 4, 2};
    private static final int TABLE_ROWS = 6;
    private static final int WIDTH = 5;

    @Test
    void gatherAndScatterAgreeWithRepeatedIds() {
        int outLd = WIDTH + 2;
        for (boolean accumulate : new boolean[] {false, true}) {
            assertAgree("gatherRows, accumulate " + accumulate, (kernels, m) -> {
                kernels.gatherRows(m[0], WIDTH, IDS, m[1], 3, outLd, accumulate);
                return 0;
            }, random((long) TABLE_ROWS * WIDTH), random(3 + (long) IDS.length * outLd));
        }
        assertAgree("scatterAddRows", (kernels, m) -> {
            kernels.scatterAddRows(m[0], 1, WIDTH + 1, IDS, WIDTH, m[1]);
            return 0;
        }, random(1 + (long) IDS.length * (WIDTH + 1)), random((long) TABLE_ROWS * WIDTH));
    }

    @Test
    void gatherAndScatterMatchPlainJava() {
        int ld = WIDTH + 1;
        for (Kernels kernels : both()) {
            DenseMatrix table = random((long) TABLE_ROWS * WIDTH);
            DenseMatrix out = random(2 + (long) IDS.length * ld);
            double[] gathered = values(out);
            double[] accumulated = values(out);
            for (int r = 0; r < IDS.length; r++) {
                for (int j = 0; j < WIDTH; j++) {
                    double v = table.get(IDS[r] * WIDTH + j);
                    gathered[2 + r * ld + j] = v;
                    accumulated[2 + r * ld + j] = 2 * v;
                }
            }
            kernels.gatherRows(table, WIDTH, IDS, out, 2, ld, false);
            assertClose(name(kernels) + " gatherRows", gathered, out, TOLERANCE);
            kernels.gatherRows(table, WIDTH, IDS, out, 2, ld, true);
            assertClose(name(kernels) + " gatherRows accumulating", accumulated, out, TOLERANCE);

            DenseMatrix rows = random(2 + (long) IDS.length * ld);
            double[] scattered = values(table);
            for (int r = 0; r < IDS.length; r++) {
                for (int j = 0; j < WIDTH; j++) {
                    scattered[IDS[r] * WIDTH + j] += rows.get(2 + r * ld + j);
                }
            }
            kernels.scatterAddRows(rows, 2, ld, IDS, WIDTH, table);
            assertClose(name(kernels) + " scatterAddRows", scattered, table, TOLERANCE);
        }
    }

    // ------------------------------------------------------------------ float

    @Test
    void floatKernelsAgree() {
        DataType f = DataType.FLOAT;
        int sequences = 2;
        int t = CONTEXT;
        long rows = (long) sequences * t;
        assertAgree("float gemm", (kernels, m) -> {
            kernels.gemm(false, true, 6, 5, 4, 1, m[0], 1, 4, m[1], 0, 4, 0.5, m[2], 0, 5);
            return 0;
        }, random(f, 25, 1), random(f, 20, 1), random(f, 30, 1));
        assertAgree("float LayerNorm", (kernels, m) -> {
            kernels.normForward(m[0], 4, D, m[1], m[2], 1e-5, m[3], m[4], m[5]);
            kernels.normBackward(m[6], m[3], m[4], 4, D, m[1], true, m[7], m[8], m[9], true);
            return 0;
        }, random(f, 4 * D, 2), random(f, D, 1), random(f, D, 1), random(f, 4 * D, 1), random(f, 4, 1),
                random(f, 4 * D, 1), random(f, 4 * D, 1), random(f, D, 1), random(f, D, 1), random(f, 4 * D, 1));
        assertAgree("float gelu", (kernels, m) -> {
            kernels.geluForward(m[0], m[1], m[2], 30);
            kernels.geluBackward(m[0], m[1], m[3], 30);
            return 0;
        }, random(f, 30, 3), random(f, 30, 1), random(f, 30, 1), random(f, 30, 1));
        assertAgree("float attention", (kernels, m) -> {
            kernels.rotate(m[0], 0, 3 * D, (int) rows, HEADS, 0, t, false);
            kernels.rotate(m[0], D, 3 * D, (int) rows, HEADS, 0, t, false);
            trainingForward(kernels, sequences, t, m[0], m[1], m[2], D);
            kernels.attentionBackward(sequences, t, HEADS, HEAD_WIDTH, m[0], m[1], m[3], m[4]);
            return 0;
        }, random(f, rows * 3 * D, 2), random(f, (long) sequences * HEADS * t * t, 1), random(f, rows * D, 1),
                random(f, rows * D, 1), random(f, rows * 3 * D, 1));
        assertAgree("float cross-entropy", (kernels, m) -> kernels.crossEntropy(m[0], LABELS.length, 7, LABELS, 0.5),
                random(f, (long) LABELS.length * 7, 3));
        assertAgree("float gather and scatter", (kernels, m) -> {
            kernels.gatherRows(m[0], WIDTH, IDS, m[1], 0, WIDTH, true);
            kernels.scatterAddRows(m[1], 0, WIDTH, IDS, WIDTH, m[0]);
            return 0;
        }, random(f, (long) TABLE_ROWS * WIDTH, 1), random(f, (long) IDS.length * WIDTH, 1));
    }
}

package dev.mtpspark.core.kernels;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.transforms.custom.LogSoftMax;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;


/**
 * The kernels on the CPU backend: every product is one OpenBLAS call on the matrices' off-heap buffers; the
 * exponentials (GELU's sigmoid, the softmaxes) are ND4J's vectorised operations on whole matrices; everything else
 * is a Java loop over heap chunks read and written in bulk ({@link DenseMatrix#read}), which the JIT turns into
 * plain memory loops (docs/performance.md, improvement 8). Below {@link #DEFAULT_VECTORISED_FROM} elements (one
 * position of a KV-cached decoding step) the exponentials are Java loops too: there an ND4J operation's fixed cost
 * is larger than the work. Attention and rotary positions are in {@link CpuAttention}. One instance per thread:
 * the chunks are scratch space.
 *
 * <p>{@link #rowIndependent} kernels compute every row of a product or an attention exactly as a one-row call
 * would (per-row matrix-vector products, Java exponentials, each query over its visible keys only): a KV-cached
 * pass over k new positions then gives bitwise the logits of k one-position passes, which is what makes
 * speculative decoding's output equal plain greedy decoding token for token.
 */
public final class CpuKernels implements Kernels {
    private static final double GELU_C = 2.0 * Math.sqrt(2.0 / Math.PI);
    private static final double GELU_CUBIC = GELU_C * 0.044715;

    /** Element count from which the exponentials go through ND4J's vectorised operations. */
    static final int DEFAULT_VECTORISED_FROM = 8192;

    private final CpuAttention attention;
    private final int vectorisedFrom;
    private final boolean rowByRow;
    private final int chunk;
    private final double[] first;
    private final double[] second;
    private final double[] third;
    private final float[] floats;
    private DenseMatrix ones;

    public CpuKernels(int contextLength, int headWidth) {
        this(contextLength, headWidth, DEFAULT_VECTORISED_FROM);
    }

    /** With the element count from which exponentials are vectorised (tests run both paths). */
    CpuKernels(int contextLength, int headWidth, int vectorisedFrom) {
        this(contextLength, headWidth, vectorisedFrom, false);
    }

    private CpuKernels(int contextLength, int headWidth, int vectorisedFrom, boolean rowByRow) {
        this.attention = new CpuAttention(contextLength, headWidth, vectorisedFrom, rowByRow);
        this.vectorisedFrom = vectorisedFrom;
        this.rowByRow = rowByRow;
        chunk = Math.max(4096, contextLength);
        first = new double[chunk];
        second = new double[chunk];
        third = new double[chunk];
        floats = new float[chunk];
    }

    /** Kernels whose every output row is what a one-row call computes (see the class comment); for decoding. */
    public static CpuKernels rowIndependent(int contextLength, int headWidth) {
        return new CpuKernels(contextLength, headWidth, Integer.MAX_VALUE, true);
    }

    @Override
    public void gemm(boolean transA, boolean transB, int m, int n, int k, double alpha, DenseMatrix a, int aOff, int lda,
                     DenseMatrix b, int bOff, int ldb, double beta, DenseMatrix c, int cOff, int ldc) {
        if (rowByRow && !transA) {
            for (int r = 0; r < m; r++) {
                DenseMatrix.gemm(false, transB, 1, n, k, alpha, a, aOff + r * lda, lda, b, bOff, ldb, beta, c, cOff + r * ldc, ldc);
            }
            return;
        }
        DenseMatrix.gemm(transA, transB, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc);
    }

    /** At least {@code rows} ones of {@code like}'s type: the rank-1 factor of bias broadcasts and column sums. */
    private DenseMatrix ones(DenseMatrix like, int rows) {
        if (ones == null || ones.length() < rows || ones.array().dataType() != like.array().dataType()) {
            ones = DenseMatrix.allocate(like.array().dataType(), rows);
            ones.fill(1.0);
        }
        return ones;
    }

    @Override
    public void addBias(DenseMatrix out, int rows, int width, DenseMatrix bias) {
        gemm(false, false, rows, width, 1, 1, ones(out, rows), 0, 1, bias, 0, width, 1, out, 0, width);
    }

    @Override
    public void addColumnSums(DenseMatrix x, int rows, int cols, DenseMatrix target) {
        DenseMatrix.addColumnSums(x, rows, cols, ones(x, rows), target);
    }

    @Override
    public void normForward(DenseMatrix x, int rows, int d, DenseMatrix gain, DenseMatrix bias, double eps,
                            DenseMatrix hat, DenseMatrix rstd, DenseMatrix out) {
        double[] xs = first;
        double[] hs = second;
        double[] os = third;
        double[] g = new double[d];
        double[] b = new double[d];
        gain.read(0, g, d, floats);
        if (bias != null) {
            bias.read(0, b, d, floats);
        }
        for (int r = 0; r < rows; r++) {
            int base = r * d;
            x.read(base, xs, d, floats);
            double mean = 0;
            if (bias != null) {
                for (int j = 0; j < d; j++) {
                    mean += xs[j];
                }
                mean /= d;
            }
            double square = 0;
            for (int j = 0; j < d; j++) {
                double c = xs[j] - mean;
                square += c * c;
            }
            double inv = 1.0 / Math.sqrt(square / d + eps);
            rstd.set(r, inv);
            for (int j = 0; j < d; j++) {
                double h = (xs[j] - mean) * inv;
                hs[j] = h;
                os[j] = h * g[j] + b[j];
            }
            hat.write(base, hs, d, floats);
            out.write(base, os, d, floats);
        }
    }

    @Override
    public void normBackward(DenseMatrix dy, DenseMatrix hat, DenseMatrix rstd, int rows, int d, DenseMatrix gain,
                             boolean centred, DenseMatrix gainGrad, DenseMatrix biasGrad, DenseMatrix dx, boolean accumulate) {
        double[] dys = first;
        double[] hs = second;
        double[] dxs = third;
        double[] g = new double[d];
        double[] gg = new double[d];
        double[] bg = new double[d];
        gain.read(0, g, d, floats);
        for (int r = 0; r < rows; r++) {
            int base = r * d;
            dy.read(base, dys, d, floats);
            hat.read(base, hs, d, floats);
            double sum = 0;
            double dot = 0;
            for (int j = 0; j < d; j++) {
                gg[j] += dys[j] * hs[j];
                bg[j] += dys[j];
                double dh = dys[j] * g[j];
                sum += dh;
                dot += dh * hs[j];
            }
            double meanGrad = centred ? sum / d : 0;
            double meanDot = dot / d;
            double inv = rstd.get(r);
            if (accumulate) {
                dx.read(base, dxs, d, floats);
            }
            for (int j = 0; j < d; j++) {
                double grad = inv * (dys[j] * g[j] - meanGrad - hs[j] * meanDot);
                dxs[j] = accumulate ? dxs[j] + grad : grad;
            }
            dx.write(base, dxs, d, floats);
        }
        for (int j = 0; j < d; j++) {
            gainGrad.add(j, gg[j]);
            if (centred && biasGrad != null) {
                biasGrad.add(j, bg[j]);
            }
        }
    }

    @Override
    public void geluForward(DenseMatrix u, DenseMatrix sigmoid, DenseMatrix out, int count) {
        for (int from = 0; from < count; from += chunk) {
            int n = Math.min(chunk, count - from);
            u.read(from, first, n, floats);
            for (int i = 0; i < n; i++) {
                double x = first[i];
                second[i] = GELU_C * x + GELU_CUBIC * x * x * x;
            }
            if (count < vectorisedFrom) {
                for (int i = 0; i < n; i++) {
                    second[i] = 1 / (1 + Math.exp(-second[i]));
                }
            }
            sigmoid.write(from, second, n, floats);
        }
        if (count >= vectorisedFrom) {
            Transforms.sigmoid(sigmoid.view(0, count, 1, count), false);     // the exponentials, vectorised
        }
        multiply(u, sigmoid, out, count);
    }

    @Override
    public void geluBackward(DenseMatrix u, DenseMatrix sigmoid, DenseMatrix grad, int count) {
        for (int from = 0; from < count; from += chunk) {
            int n = Math.min(chunk, count - from);
            u.read(from, first, n, floats);
            sigmoid.read(from, second, n, floats);
            grad.read(from, third, n, floats);
            for (int i = 0; i < n; i++) {
                double x = first[i];
                double s = second[i];
                third[i] *= s + x * s * (1 - s) * (GELU_C + 3 * GELU_CUBIC * x * x);
            }
            grad.write(from, third, n, floats);
        }
    }

    @Override
    public void attentionForward(int sequences, int queries, int keys, int kvRows, int heads, int hd,
                                 DenseMatrix q, int qOff, int qLd, DenseMatrix k, int kOff, DenseMatrix v, int vOff, int kvLd,
                                 DenseMatrix probs, DenseMatrix out, int outLd) {
        attention.forward(sequences, queries, keys, kvRows, heads, hd, q, qOff, qLd, k, kOff, v, vOff, kvLd, probs, out, outLd);
    }

    @Override
    public void attentionBackward(int sequences, int t, int heads, int hd, DenseMatrix qkv, DenseMatrix probs,
                                  DenseMatrix dOut, DenseMatrix dQkv) {
        attention.backward(sequences, t, heads, hd, qkv, probs, dOut, dQkv);
    }

    @Override
    public void rotate(DenseMatrix x, int off, int ld, int rows, int heads, int first, int period, boolean inverse) {
        attention.rotate(x, off, ld, rows, heads, first, period, inverse);
    }

    @Override
    public double crossEntropy(DenseMatrix logits, int rows, int vocab, int[] labels, double coefficient) {
        INDArray all = logits.view(0, vocab, rows, vocab);
        Nd4j.exec(new LogSoftMax(all, all));
        double logLikelihood = 0;
        for (int r = 0; r < rows; r++) {
            logLikelihood += logits.get(r * vocab + labels[r]);
        }
        Transforms.exp(all, false).muli(coefficient);
        for (int r = 0; r < rows; r++) {
            logits.add(r * vocab + labels[r], -coefficient);
        }
        return -coefficient * logLikelihood;
    }

    @Override
    public void multiply(DenseMatrix x, DenseMatrix y, DenseMatrix out, int count) {
        for (int from = 0; from < count; from += chunk) {
            int n = Math.min(chunk, count - from);
            x.read(from, first, n, floats);
            y.read(from, second, n, floats);
            for (int i = 0; i < n; i++) {
                first[i] *= second[i];
            }
            out.write(from, first, n, floats);
        }
    }

    @Override
    public void add(DenseMatrix target, DenseMatrix x, int count) {
        for (int from = 0; from < count; from += chunk) {
            int n = Math.min(chunk, count - from);
            target.read(from, first, n, floats);
            x.read(from, second, n, floats);
            for (int i = 0; i < n; i++) {
                first[i] += second[i];
            }
            target.write(from, first, n, floats);
        }
    }

    @Override
    public void copy(DenseMatrix src, int srcOff, int srcLd, DenseMatrix dst, int dstOff, int dstLd, int rows, int cols) {
        if (srcLd == cols && dstLd == cols) {
            src.copyRange(srcOff, dst, dstOff, rows * cols);
            return;
        }
        double[] row = cols <= chunk ? first : new double[cols];
        float[] scratch = cols <= chunk ? floats : new float[cols];
        for (int r = 0; r < rows; r++) {
            src.read(srcOff + r * srcLd, row, cols, scratch);
            dst.write(dstOff + r * dstLd, row, cols, scratch);
        }
    }

    @Override
    public void gatherRows(DenseMatrix table, int width, int[] ids, DenseMatrix out, int outOff, int outLd, boolean accumulate) {
        double[] row = width <= chunk ? first : new double[width];
        double[] acc = width <= chunk ? second : new double[width];
        float[] scratch = width <= chunk ? floats : new float[width];
        for (int r = 0; r < ids.length; r++) {
            table.read(ids[r] * width, row, width, scratch);
            if (accumulate) {
                out.read(outOff + r * outLd, acc, width, scratch);
                for (int j = 0; j < width; j++) {
                    row[j] += acc[j];
                }
            }
            out.write(outOff + r * outLd, row, width, scratch);
        }
    }

    @Override
    public void scatterAddRows(DenseMatrix rows, int rowsOff, int rowsLd, int[] ids, int width, DenseMatrix table) {
        double[] row = width <= chunk ? first : new double[width];
        double[] acc = width <= chunk ? second : new double[width];
        float[] scratch = width <= chunk ? floats : new float[width];
        for (int r = 0; r < ids.length; r++) {
            rows.read(rowsOff + r * rowsLd, row, width, scratch);
            table.read(ids[r] * width, acc, width, scratch);
            for (int j = 0; j < width; j++) {
                acc[j] += row[j];
            }
            table.write(ids[r] * width, acc, width, scratch);
        }
    }
}

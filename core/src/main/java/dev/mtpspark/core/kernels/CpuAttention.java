package dev.mtpspark.core.kernels;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.transforms.custom.SoftMax;
import org.nd4j.linalg.factory.Nd4j;

import java.util.Arrays;

/**
 * The CPU kernels' attention and rotary positions ({@link Kernels#attentionForward}, {@link Kernels#attentionBackward},
 * {@link Kernels#rotate}): per sequence and head, OpenBLAS products on column blocks of the QKV rows, the causal
 * mask written in place and one softmax over every row (vectorised from {@code vectorisedFrom} elements, Java
 * below). One instance per {@link CpuKernels}: its rotary tables and scratch rows are its own.
 */
final class CpuAttention {
    private final int headWidth;
    private final int vectorisedFrom;
    private final boolean rowByRow;
    private final double[] cos;          // [T, headWidth / 2]
    private final double[] sin;
    private final double[] first;
    private final double[] second;
    private final double[] fourth;
    private final float[] floats;
    private DenseMatrix scores;

    CpuAttention(int contextLength, int headWidth, int vectorisedFrom, boolean rowByRow) {
        this.headWidth = headWidth;
        this.vectorisedFrom = vectorisedFrom;
        this.rowByRow = rowByRow;
        int half = headWidth / 2;
        cos = new double[contextLength * half];
        sin = new double[contextLength * half];
        for (int p = 0; p < contextLength; p++) {
            for (int i = 0; i < half; i++) {
                double angle = p * Math.pow(10000.0, -2.0 * i / headWidth);
                cos[p * half + i] = Math.cos(angle);
                sin[p * half + i] = Math.sin(angle);
            }
        }
        int width = Math.max(4096, contextLength);
        first = new double[width];
        second = new double[width];
        fourth = new double[width];
        floats = new float[width];
    }

    void forward(int sequences, int queries, int keys, int kvRows, int heads, int hd,
                  DenseMatrix q, int qOff, int qLd, DenseMatrix k, int kOff, DenseMatrix v, int vOff, int kvLd,
                  DenseMatrix probs, DenseMatrix out, int outLd) {
        double scale = 1.0 / Math.sqrt(hd);
        int start = keys - queries;
        if (rowByRow) {
            forwardRowByRow(sequences, queries, keys, kvRows, heads, hd, scale, q, qOff, qLd, k, kOff, v, vOff, kvLd, probs, out, outLd);
            return;
        }
        double[] masked = fourth;
        Arrays.fill(masked, 0, keys, Double.NEGATIVE_INFINITY);
        for (int s = 0; s < sequences; s++) {
            for (int j = 0; j < heads; j++) {
                int p = (s * heads + j) * queries * keys;
                DenseMatrix.gemm(false, true, queries, keys, hd, scale, q, qOff + s * queries * qLd + j * hd, qLd,
                        k, kOff + s * kvRows * kvLd + j * hd, kvLd, 0, probs, p, keys);
                for (int i = 0; i < queries; i++) {
                    int visible = start + i + 1;
                    if (visible < keys) {
                        probs.write(p + i * keys + visible, masked, keys - visible, floats);  // causal: weight exactly 0
                    }
                }
            }
        }
        int rows = sequences * heads * queries;
        if ((long) rows * keys >= vectorisedFrom) {
            INDArray all = probs.view(0, keys, rows, keys);
            Nd4j.exec(new SoftMax(all, all, 1));         // every row of every head in one vectorised softmax
        } else {
            for (int r = 0; r < rows; r++) {
                softmaxRow(probs, r * keys, keys);
            }
        }
        for (int s = 0; s < sequences; s++) {
            for (int j = 0; j < heads; j++) {
                int p = (s * heads + j) * queries * keys;
                DenseMatrix.gemm(false, false, queries, hd, keys, 1, probs, p, keys, v, vOff + s * kvRows * kvLd + j * hd, kvLd,
                        0, out, s * queries * outLd + j * hd, outLd);
            }
        }
    }

    /** Each query row on its own, over exactly the keys it sees: what a one-query call at its position computes. */
    private void forwardRowByRow(int sequences, int queries, int keys, int kvRows, int heads, int hd, double scale,
                                 DenseMatrix q, int qOff, int qLd, DenseMatrix k, int kOff, DenseMatrix v, int vOff, int kvLd,
                                 DenseMatrix probs, DenseMatrix out, int outLd) {
        Arrays.fill(fourth, 0, keys, 0.0);
        for (int s = 0; s < sequences; s++) {
            for (int j = 0; j < heads; j++) {
                int p = (s * heads + j) * queries * keys;
                for (int i = 0; i < queries; i++) {
                    int visible = keys - queries + i + 1;
                    int row = p + i * keys;
                    DenseMatrix.gemm(false, true, 1, visible, hd, scale, q, qOff + (s * queries + i) * qLd + j * hd, qLd,
                            k, kOff + s * kvRows * kvLd + j * hd, kvLd, 0, probs, row, keys);
                    softmaxRow(probs, row, visible);
                    if (visible < keys) {
                        probs.write(row + visible, fourth, keys - visible, floats);
                    }
                    DenseMatrix.gemm(false, false, 1, hd, visible, 1, probs, row, keys, v, vOff + s * kvRows * kvLd + j * hd, kvLd,
                            0, out, (s * queries + i) * outLd + j * hd, outLd);
                }
            }
        }
    }

    private void softmaxRow(DenseMatrix m, int from, int count) {
        double[] row = first;
        m.read(from, row, count, floats);
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < count; i++) {
            max = Math.max(max, row[i]);
        }
        double sum = 0;
        for (int i = 0; i < count; i++) {
            row[i] = Math.exp(row[i] - max);
            sum += row[i];
        }
        for (int i = 0; i < count; i++) {
            row[i] /= sum;
        }
        m.write(from, row, count, floats);
    }

    void backward(int sequences, int t, int heads, int hd, DenseMatrix qkv, DenseMatrix probs,
                  DenseMatrix dOut, DenseMatrix dQkv) {
        double scale = 1.0 / Math.sqrt(hd);
        int d = heads * hd;
        int ld = 3 * d;
        if (scores == null || scores.length() < t * t || scores.array().dataType() != qkv.array().dataType()) {
            scores = DenseMatrix.allocate(qkv.array().dataType(), (long) t * t);
        }
        for (int s = 0; s < sequences; s++) {
            for (int j = 0; j < heads; j++) {
                int q = s * t * ld + j * hd;
                int p = (s * heads + j) * t * t;
                int ctx = s * t * d + j * hd;
                DenseMatrix.gemm(false, true, t, t, hd, 1, dOut, ctx, d, qkv, q + 2 * d, ld, 0, scores, 0, t);
                DenseMatrix.gemm(true, false, t, hd, t, 1, probs, p, t, dOut, ctx, d, 0, dQkv, q + 2 * d, ld);
                for (int i = 0; i < t; i++) {
                    probs.read(p + i * t, first, t, floats);
                    scores.read(i * t, second, t, floats);
                    double dot = 0;
                    for (int c = 0; c <= i; c++) {
                        dot += first[c] * second[c];
                    }
                    for (int c = 0; c <= i; c++) {
                        second[c] = first[c] * (second[c] - dot) * scale;
                    }
                    Arrays.fill(second, i + 1, t, 0.0);
                    scores.write(i * t, second, t, floats);
                }
                DenseMatrix.gemm(false, false, t, hd, t, 1, scores, 0, t, qkv, q + d, ld, 0, dQkv, q, ld);
                DenseMatrix.gemm(true, false, t, hd, t, 1, scores, 0, t, qkv, q, ld, 0, dQkv, q + d, ld);
            }
        }
    }

    void rotate(DenseMatrix x, int off, int ld, int rows, int heads, int first, int period, boolean inverse) {
        int half = headWidth / 2;
        double sign = inverse ? -1 : 1;
        double[] row = this.first;
        int width = heads * headWidth;
        for (int r = 0; r < rows; r++) {
            int table = (first + r % period) * half;
            int base = off + r * ld;
            x.read(base, row, width, floats);
            for (int j = 0; j < heads; j++) {
                int h = j * headWidth;
                for (int i = 0; i < half; i++) {
                    double c = cos[table + i];
                    double s = sign * sin[table + i];
                    double a = row[h + i];
                    double b = row[h + half + i];
                    row[h + i] = a * c - b * s;
                    row[h + half + i] = b * c + a * s;
                }
            }
            x.write(base, row, width, floats);
        }
    }

}

package dev.mtpspark.core.kernels;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.DynamicCustomOp;
import org.nd4j.linalg.api.ops.impl.transforms.custom.LogSoftMax;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * The {@link Kernels} as ND4J operations on views of the matrices' buffers, with no element access from Java: they
 * run on any backend, CUDA included (where a host access would copy the buffer back), and are the CPU kernels'
 * test oracle. Attention and rotary positions are in {@link Nd4jAttention}.
 */
public final class Nd4jKernels implements Kernels {
    private static final double GELU_C = 2.0 * Math.sqrt(2.0 / Math.PI);
    private static final double GELU_CUBIC = GELU_C * 0.044715;

    private final Nd4jAttention attention;

    public Nd4jKernels(DataType dataType, int contextLength, int headWidth) {
        this.attention = new Nd4jAttention(dataType, contextLength, headWidth);
    }

    /** A strided view of any rank on {@code m}'s buffer (rank-4 views batch the attention's heads). */
    static INDArray strided(DenseMatrix m, long offset, long[] shape, long[] stride) {
        return Nd4j.create(m.array().data(), shape, stride, offset, 'c');
    }

    /** The first {@code count} elements as a {@code [1, count]} view. */
    private static INDArray flat(DenseMatrix m, long count) {
        return m.view(0, count, 1, count);
    }

    @Override
    public void gemm(boolean transA, boolean transB, int m, int n, int k, double alpha, DenseMatrix a, int aOff, int lda,
                     DenseMatrix b, int bOff, int ldb, double beta, DenseMatrix c, int cOff, int ldc) {
        if (m == 0 || n == 0) {
            return;
        }
        INDArray cView = c.view(cOff, ldc, m, n);
        if (k == 0 || alpha == 0) {
            scaleBeta(cView, beta);
            return;
        }
        INDArray aView = transA ? a.view(aOff, lda, k, m) : a.view(aOff, lda, m, k);
        INDArray bView = transB ? b.view(bOff, ldb, n, k) : b.view(bOff, ldb, k, n);
        // Into a temporary: c may be a strided view, and (as in BLAS) beta = 0 must ignore c's old contents.
        INDArray product = Nd4j.matmul(aView, bView, transA, transB, false);
        if (alpha != 1) {
            product.muli(alpha);
        }
        if (beta == 0) {
            cView.assign(product);
        } else {
            if (beta != 1) {
                cView.muli(beta);
            }
            cView.addi(product);
        }
    }

    private static void scaleBeta(INDArray c, double beta) {
        if (beta == 0) {
            c.assign(0);
        } else if (beta != 1) {
            c.muli(beta);
        }
    }

    @Override
    public void addBias(DenseMatrix out, int rows, int width, DenseMatrix bias) {
        if (rows == 0 || width == 0) {
            return;
        }
        out.view(0, width, rows, width).addiRowVector(bias.view(0, width, 1, width));
    }

    @Override
    public void addColumnSums(DenseMatrix x, int rows, int cols, DenseMatrix target) {
        if (rows == 0 || cols == 0) {
            return;
        }
        target.view(0, cols, 1, cols).addi(x.view(0, cols, rows, cols).sum(true, 0));
    }

    @Override
    public void normForward(DenseMatrix x, int rows, int d, DenseMatrix gain, DenseMatrix bias, double eps,
                            DenseMatrix hat, DenseMatrix rstd, DenseMatrix out) {
        if (rows == 0) {
            return;
        }
        INDArray xs = x.view(0, d, rows, d);
        INDArray centred = bias != null ? xs.subColumnVector(xs.mean(true, 1)) : xs;
        INDArray inverse = Transforms.sqrt(centred.mul(centred).mean(true, 1).addi(eps), false).rdivi(1.0);
        INDArray hats = centred.mulColumnVector(inverse);
        INDArray result = hats.mulRowVector(gain.view(0, d, 1, d));
        if (bias != null) {
            result.addiRowVector(bias.view(0, d, 1, d));
        }
        rstd.view(0, 1, rows, 1).assign(inverse);
        hat.view(0, d, rows, d).assign(hats);
        out.view(0, d, rows, d).assign(result);
    }

    @Override
    public void normBackward(DenseMatrix dy, DenseMatrix hat, DenseMatrix rstd, int rows, int d, DenseMatrix gain,
                             boolean centred, DenseMatrix gainGrad, DenseMatrix biasGrad, DenseMatrix dx, boolean accumulate) {
        if (rows == 0) {
            return;
        }
        INDArray dys = dy.view(0, d, rows, d);
        INDArray hats = hat.view(0, d, rows, d);
        gainGrad.view(0, d, 1, d).addi(dys.mul(hats).sum(true, 0));
        if (centred && biasGrad != null) {
            biasGrad.view(0, d, 1, d).addi(dys.sum(true, 0));
        }
        INDArray dh = dys.mulRowVector(gain.view(0, d, 1, d));
        INDArray grad = dh.sub(hats.mulColumnVector(dh.mul(hats).mean(true, 1)));
        if (centred) {
            grad.subiColumnVector(dh.mean(true, 1));
        }
        grad.muliColumnVector(rstd.view(0, 1, rows, 1));
        INDArray target = dx.view(0, d, rows, d);
        if (accumulate) {
            target.addi(grad);
        } else {
            target.assign(grad);
        }
    }

    @Override
    public void geluForward(DenseMatrix u, DenseMatrix sigmoid, DenseMatrix out, int count) {
        if (count == 0) {
            return;
        }
        INDArray us = flat(u, count);
        INDArray z = us.mul(us).muli(us).muli(GELU_CUBIC).addi(us.mul(GELU_C));
        INDArray sig = flat(sigmoid, count);
        sig.assign(Transforms.sigmoid(z, false));
        flat(out, count).assign(us.mul(sig));
    }

    @Override
    public void geluBackward(DenseMatrix u, DenseMatrix sigmoid, DenseMatrix grad, int count) {
        if (count == 0) {
            return;
        }
        INDArray us = flat(u, count);
        INDArray sig = flat(sigmoid, count);
        INDArray slope = us.mul(us).muli(3 * GELU_CUBIC).addi(GELU_C);
        INDArray derivative = sig.rsub(1.0).muli(sig).muli(us).muli(slope).addi(sig);
        flat(grad, count).muli(derivative);
    }

    @Override
    public void attentionForward(int sequences, int queries, int keys, int kvRows, int heads, int headWidth,
                                 DenseMatrix q, int qOff, int qLd, DenseMatrix k, int kOff, DenseMatrix v, int vOff, int kvLd,
                                 DenseMatrix probs, DenseMatrix out, int outLd) {
        attention.forward(sequences, queries, keys, kvRows, heads, headWidth, q, qOff, qLd, k, kOff, v, vOff, kvLd, probs, out, outLd);
    }

    @Override
    public void attentionBackward(int sequences, int t, int heads, int headWidth, DenseMatrix qkv, DenseMatrix probs,
                                  DenseMatrix dOut, DenseMatrix dQkv) {
        attention.backward(sequences, t, heads, headWidth, qkv, probs, dOut, dQkv);
    }

    @Override
    public void rotate(DenseMatrix x, int off, int ld, int rows, int heads, int first, int period, boolean inverse) {
        attention.rotate(x, off, ld, rows, heads, first, period, inverse);
    }

    /** Rows {@code ids} of {@code table} (axis 0), as a new array. */
    static INDArray gather(INDArray table, INDArray ids) {
        long[] shape = table.shape().clone();
        shape[0] = ids.length();
        INDArray result = Nd4j.create(table.dataType(), shape);
        Nd4j.exec(DynamicCustomOp.builder("gather").addInputs(table, ids).addOutputs(result).addIntegerArguments(0).build());
        return result;
    }

    private static void scatterAdd(INDArray table, INDArray ids, INDArray updates) {
        Nd4j.exec(DynamicCustomOp.builder("scatter_add").addInputs(table, ids, updates).addOutputs(table).build());
    }

    @Override
    public double crossEntropy(DenseMatrix logits, int rows, int vocab, int[] labels, double coefficient) {
        if (rows == 0) {
            return 0;
        }
        INDArray all = logits.view(0, vocab, rows, vocab);
        Nd4j.exec(new LogSoftMax(all, all));
        // Each row's label as an index into the flattened logits.
        INDArray flatLogits = strided(logits, 0, new long[] {(long) rows * vocab}, new long[] {1});
        INDArray picks = Nd4j.arange(0, rows).castTo(DataType.INT64).muli(vocab)
                .addi(Nd4j.createFromArray(labels).castTo(DataType.INT64));
        double logLikelihood = gather(flatLogits, picks).sumNumber().doubleValue();
        Transforms.exp(all, false).muli(coefficient);
        scatterAdd(flatLogits, picks, Nd4j.valueArrayOf(new long[] {rows}, -coefficient, all.dataType()));
        return -coefficient * logLikelihood;
    }

    @Override
    public void multiply(DenseMatrix x, DenseMatrix y, DenseMatrix out, int count) {
        if (count == 0) {
            return;
        }
        INDArray target = flat(out, count);
        flat(x, count).mul(flat(y, count), target);
    }

    @Override
    public void add(DenseMatrix target, DenseMatrix x, int count) {
        if (count == 0) {
            return;
        }
        flat(target, count).addi(flat(x, count));
    }

    @Override
    public void copy(DenseMatrix src, int srcOff, int srcLd, DenseMatrix dst, int dstOff, int dstLd, int rows, int cols) {
        if (rows == 0 || cols == 0) {
            return;
        }
        dst.view(dstOff, dstLd, rows, cols).assign(src.view(srcOff, srcLd, rows, cols));
    }

    @Override
    public void gatherRows(DenseMatrix table, int width, int[] ids, DenseMatrix out, int outOff, int outLd, boolean accumulate) {
        if (ids.length == 0) {
            return;
        }
        INDArray gathered = gather(table.view(0, width, table.length() / width, width), Nd4j.createFromArray(ids));
        INDArray target = out.view(outOff, outLd, ids.length, width);
        if (accumulate) {
            target.addi(gathered);
        } else {
            target.assign(gathered);
        }
    }

    @Override
    public void scatterAddRows(DenseMatrix rows, int rowsOff, int rowsLd, int[] ids, int width, DenseMatrix table) {
        if (ids.length == 0) {
            return;
        }
        // scatter_add sums repeated ids (each id's updates in turn).
        scatterAdd(table.view(0, width, table.length() / width, width), Nd4j.createFromArray(ids),
                rows.view(rowsOff, rowsLd, ids.length, width));
    }
}

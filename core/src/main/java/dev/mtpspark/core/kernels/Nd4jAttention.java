package dev.mtpspark.core.kernels;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.transforms.custom.SoftMax;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * Attention and rotary positions of {@link Nd4jKernels}, as ND4J operations only. Attention is batched over
 * sequences and heads through rank-4 strided views, so one call costs a fixed number of operations whatever the
 * number of heads.
 */
final class Nd4jAttention {
    private final int contextLength;
    private final int headWidth;
    /** Rotary tables {@code [contextLength, headWidth / 2]}. */
    private final INDArray cos;
    private final INDArray sin;
    /** {@code [contextLength, contextLength]}: 0 on and below the diagonal, −∞ above, so masked weights are exactly 0. */
    private final INDArray causalMask;

    Nd4jAttention(DataType dataType, int contextLength, int headWidth) {
        this.contextLength = contextLength;
        this.headWidth = headWidth;
        int half = headWidth / 2;
        // Detached: an instance outlives any workspace it is first used in.
        try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
            // In double, then cast, so that a FLOAT table is the rounded exact angle.
            INDArray exponents = Nd4j.arange(0, half).castTo(DataType.DOUBLE).muli(-2.0).divi(headWidth);
            INDArray frequencies = Transforms.pow(Nd4j.valueArrayOf(new long[] {half}, 10000.0, DataType.DOUBLE), exponents, false);
            INDArray positions = Nd4j.arange(0, contextLength).castTo(DataType.DOUBLE).reshape(contextLength, 1);
            INDArray angles = positions.mmul(frequencies.reshape(1, half));
            cos = Transforms.cos(angles, true).castTo(dataType);
            sin = Transforms.sin(angles, true).castTo(dataType);
            causalMask = Transforms.log(Nd4j.tri(contextLength, contextLength, 0).castTo(dataType), false);
        }
    }

    /** {@code [sequences, heads, rows, headWidth]} view of one head-split block whose sequences start {@code seqStride} apart. */
    private static INDArray heads(DenseMatrix m, long offset, int sequences, int rows, long seqStride, long ld,
                                  int heads, int headWidth) {
        return Nd4jKernels.strided(m, offset, new long[] {sequences, rows, heads, headWidth},
                new long[] {seqStride, ld, headWidth, 1}).permute(0, 2, 1, 3);
    }

    void forward(int sequences, int queries, int keys, int kvRows, int heads, int headWidth,
                 DenseMatrix q, int qOff, int qLd, DenseMatrix k, int kOff, DenseMatrix v, int vOff, int kvLd,
                 DenseMatrix probs, DenseMatrix out, int outLd) {
        if (sequences == 0 || queries == 0) {
            return;
        }
        if (keys > contextLength || queries > keys) {
            throw new IllegalArgumentException("attention of " + queries + " queries over " + keys
                    + " keys with a context of " + contextLength);
        }
        INDArray qs = heads(q, qOff, sequences, queries, (long) queries * qLd, qLd, heads, headWidth);
        INDArray ks = heads(k, kOff, sequences, keys, (long) kvRows * kvLd, kvLd, heads, headWidth);
        INDArray vs = heads(v, vOff, sequences, keys, (long) kvRows * kvLd, kvLd, heads, headWidth);
        INDArray scores = Nd4j.matmul(qs, ks, false, true, false).muli(1.0 / Math.sqrt(headWidth));
        // Query i sits at position keys − queries + i: the mask's rows from there.
        scores.addi(causalMask.get(NDArrayIndex.interval(keys - queries, keys), NDArrayIndex.interval(0, keys)));
        long scoreRows = (long) sequences * heads * queries;
        INDArray weights = probs.view(0, keys, scoreRows, keys);
        Nd4j.exec(new SoftMax(scores.reshape(scoreRows, keys), weights, 1));
        INDArray merged = Nd4j.matmul(weights.reshape(sequences, heads, queries, keys), vs);
        heads(out, 0, sequences, queries, (long) queries * outLd, outLd, heads, headWidth).assign(merged);
    }

    void backward(int sequences, int t, int heads, int headWidth, DenseMatrix qkv, DenseMatrix probs,
                  DenseMatrix dOut, DenseMatrix dQkv) {
        if (sequences == 0 || t == 0) {
            return;
        }
        int d = heads * headWidth;
        long ld = 3L * d;
        long seqStride = t * ld;
        INDArray qs = heads(qkv, 0, sequences, t, seqStride, ld, heads, headWidth);
        INDArray ks = heads(qkv, d, sequences, t, seqStride, ld, heads, headWidth);
        INDArray vs = heads(qkv, 2L * d, sequences, t, seqStride, ld, heads, headWidth);
        INDArray dOuts = heads(dOut, 0, sequences, t, (long) t * d, d, heads, headWidth);
        long scoreRows = (long) sequences * heads * t;
        INDArray weights = probs.view(0, t, scoreRows, t);
        INDArray weights4 = weights.reshape(sequences, heads, t, t);

        INDArray dWeights = Nd4j.matmul(dOuts, vs, false, true, false);
        INDArray dValues = Nd4j.matmul(weights4, dOuts, true, false, false);
        // dS = P ⊙ (dP − rowsum(P ⊙ dP)) · scale; masked weights are exactly 0, so their dS is too.
        INDArray dScores = dWeights.reshape(scoreRows, t);
        INDArray dot = weights.mul(dScores).sum(true, 1);
        dScores.subiColumnVector(dot).muli(weights).muli(1.0 / Math.sqrt(headWidth));
        INDArray dScores4 = dScores.reshape(sequences, heads, t, t);
        INDArray dQueries = Nd4j.matmul(dScores4, ks);
        INDArray dKeys = Nd4j.matmul(dScores4, qs, true, false, false);

        heads(dQkv, 0, sequences, t, seqStride, ld, heads, headWidth).assign(dQueries);
        heads(dQkv, d, sequences, t, seqStride, ld, heads, headWidth).assign(dKeys);
        heads(dQkv, 2L * d, sequences, t, seqStride, ld, heads, headWidth).assign(dValues);
    }

    void rotate(DenseMatrix x, int off, int ld, int rows, int heads, int first, int period, boolean inverse) {
        if (rows == 0) {
            return;
        }
        int half = headWidth / 2;
        long[] shape = {rows, heads, half};
        long[] stride = {ld, headWidth, 1};
        INDArray x1 = Nd4jKernels.strided(x, off, shape, stride);
        INDArray x2 = Nd4jKernels.strided(x, (long) off + half, shape, stride);
        // Exact in double for any realistic row count.
        INDArray positions = Nd4j.arange(0, rows).castTo(DataType.DOUBLE).fmodi(period).addi(first).castTo(DataType.INT64);
        INDArray c = Nd4jKernels.gather(cos, positions).reshape(rows, 1, half);
        INDArray s = Nd4jKernels.gather(sin, positions).reshape(rows, 1, half);
        INDArray a;
        INDArray b;
        if (inverse) {
            a = x1.mul(c).addi(x2.mul(s));
            b = x2.mul(c).subi(x1.mul(s));
        } else {
            a = x1.mul(c).subi(x2.mul(s));
            b = x2.mul(c).addi(x1.mul(s));
        }
        x1.assign(a);
        x2.assign(b);
    }
}

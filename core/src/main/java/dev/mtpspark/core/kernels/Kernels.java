package dev.mtpspark.core.kernels;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The primitive operations of the network, forward and backward, on row-major {@link DenseMatrix} operands; the
 * only place where the CPU and the other ND4J backends differ. {@link CpuKernels} runs OpenBLAS on the matrices'
 * off-heap buffers plus Java loops (small operations cost next to nothing); {@link Nd4jKernels} is made of ND4J
 * operations only, so it runs on any backend (CUDA included) and is the CPU kernels' test oracle.
 *
 * <p>A sub-matrix operand is its matrix, the offset of its first element and its leading dimension (row stride):
 * one attention head's columns of the fused QKV projection, or rows of a KV cache, need no copies. An instance
 * belongs to one thread (it owns scratch buffers).
 */
public interface Kernels {
    /** The CPU kernels on the CPU backend, the ND4J-operation kernels on any other. */
    static Kernels forBackend(DataType dataType, int contextLength, int headWidth) {
        return Nd4j.getEnvironment().isCPU() ? new CpuKernels(contextLength, headWidth)
                : new Nd4jKernels(dataType, contextLength, headWidth);
    }

    /**
     * Kernels for KV-cached decoding: on the CPU, {@link CpuKernels#rowIndependent} (a pass over k new positions
     * gives bitwise the rows of k one-position passes); on other backends the ND4J-operation kernels, whose rows
     * may differ from a one-row pass in the last bits.
     */
    static Kernels forDecoding(DataType dataType, int contextLength, int headWidth) {
        return Nd4j.getEnvironment().isCPU() ? CpuKernels.rowIndependent(contextLength, headWidth)
                : new Nd4jKernels(dataType, contextLength, headWidth);
    }

    /** {@code C = alpha · op(A) · op(B) + beta · C}, with {@code op(A)} {@code m × k} and {@code op(B)} {@code k × n}. */
    void gemm(boolean transA, boolean transB, int m, int n, int k, double alpha, DenseMatrix a, int aOff, int lda,
              DenseMatrix b, int bOff, int ldb, double beta, DenseMatrix c, int cOff, int ldc);

    /** {@code out[r, :] += bias} for the {@code rows} rows of the contiguous {@code out [rows, width]}. */
    void addBias(DenseMatrix out, int rows, int width, DenseMatrix bias);

    /** {@code target += Σ_r x[r, :]} for the contiguous {@code x [rows, cols]} (a bias gradient). */
    void addColumnSums(DenseMatrix x, int rows, int cols, DenseMatrix target);

    /**
     * LayerNorm ({@code bias} not null: centred, then {@code hat·gain + bias}) or RMSNorm ({@code bias} null:
     * {@code hat·gain}) of each row of {@code x [rows, d]}; keeps {@code hat} and {@code rstd [rows]} for the backward.
     */
    void normForward(DenseMatrix x, int rows, int d, DenseMatrix gain, DenseMatrix bias, double eps,
                     DenseMatrix hat, DenseMatrix rstd, DenseMatrix out);

    /**
     * Back through {@link #normForward}: adds to {@code gainGrad} (and {@code biasGrad} when centred), and writes
     * {@code dx}, or adds it to {@code dx} when {@code accumulate}.
     */
    void normBackward(DenseMatrix dy, DenseMatrix hat, DenseMatrix rstd, int rows, int d, DenseMatrix gain, boolean centred,
                      DenseMatrix gainGrad, DenseMatrix biasGrad, DenseMatrix dx, boolean accumulate);

    /** GELU, tanh form, {@code out = u·σ(2√(2/π)(u + 0.044715u³))}; keeps σ in {@code sigmoid}. */
    void geluForward(DenseMatrix u, DenseMatrix sigmoid, DenseMatrix out, int count);

    /** {@code grad *= gelu'(u)}, given the forward pass's σ. */
    void geluBackward(DenseMatrix u, DenseMatrix sigmoid, DenseMatrix grad, int count);

    /**
     * Causal multi-head attention of {@code sequences} sequences. Sequence s has {@code queries} query rows (from row
     * {@code s·queries} of {@code q}) and {@code keys ≥ queries} key and value rows (from row {@code s·kvRows});
     * its first query sits at position {@code keys − queries}, and query i sees keys {@code 0..keys − queries + i}.
     * Writes the attention weights to {@code probs} ({@code [sequences, heads, queries, keys]}) and the merged
     * heads to {@code out} (row stride {@code outLd}).
     */
    void attentionForward(int sequences, int queries, int keys, int kvRows, int heads, int headWidth,
                          DenseMatrix q, int qOff, int qLd, DenseMatrix k, int kOff, DenseMatrix v, int vOff, int kvLd,
                          DenseMatrix probs, DenseMatrix out, int outLd);

    /**
     * Back through a training attention ({@code queries = keys = kvRows = T}) whose Q, K and V are the column blocks
     * {@code 0, d, 2d} of {@code qkv [rows, 3d]}: from {@code dOut [rows, d]} to {@code dQkv}, laid out as qkv.
     */
    void attentionBackward(int sequences, int t, int heads, int headWidth, DenseMatrix qkv, DenseMatrix probs,
                           DenseMatrix dOut, DenseMatrix dQkv);

    /**
     * Rotary position embedding (rotate-half form, base 10000) in place on the {@code [rows, heads·headWidth]}
     * block at {@code off} (row stride {@code ld}); row r is at position {@code first + r % period}.
     * {@code inverse} rotates back, which is the transpose: the backward pass of the rotation.
     */
    void rotate(DenseMatrix x, int off, int ld, int rows, int heads, int first, int period, boolean inverse);

    /**
     * The weighted cross-entropy {@code −coefficient · Σ_r log softmax(logits[r])[labels[r]]} of
     * {@code logits [rows, vocab]}; replaces the logits by its gradient {@code coefficient·(softmax − onehot)}.
     */
    double crossEntropy(DenseMatrix logits, int rows, int vocab, int[] labels, double coefficient);

    /** {@code out = x ⊙ y} over {@code count} elements ({@code out} may be {@code x}). */
    void multiply(DenseMatrix x, DenseMatrix y, DenseMatrix out, int count);

    /** {@code target += x} over {@code count} elements. */
    void add(DenseMatrix target, DenseMatrix x, int count);

    /** Copies a {@code [rows, cols]} sub-matrix. */
    void copy(DenseMatrix src, int srcOff, int srcLd, DenseMatrix dst, int dstOff, int dstLd, int rows, int cols);

    /** {@code out[r, :] (+)= table[ids[r], :]} for {@code ids.length} rows of width {@code width}. */
    void gatherRows(DenseMatrix table, int width, int[] ids, DenseMatrix out, int outOff, int outLd, boolean accumulate);

    /** {@code table[ids[r], :] += rows[r, :]}: the gradient of {@link #gatherRows}. */
    void scatterAddRows(DenseMatrix rows, int rowsOff, int rowsLd, int[] ids, int width, DenseMatrix table);
}

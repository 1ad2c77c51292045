package dev.mtpspark.core.kernels;

import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;

import static org.bytedeco.openblas.global.openblas_nolapack.CblasNoTrans;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasRowMajor;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasTrans;
import static org.bytedeco.openblas.global.openblas_nolapack.cblas_dgemm;
import static org.bytedeco.openblas.global.openblas_nolapack.cblas_dgemv;
import static org.bytedeco.openblas.global.openblas_nolapack.cblas_sgemm;
import static org.bytedeco.openblas.global.openblas_nolapack.cblas_sgemv;

/**
 * A contiguous row-major block of float or double elements in off-heap memory, read and written the
 * network's activations, weights and gradients. The CPU kernels read it element by element from Java and multiply
 * it with OpenBLAS directly ({@link #gemm}): an element access is a plain memory read once the JIT has compiled it,
 * and a product one native call, where an ND4J operation has a far larger fixed cost. The ND4J kernels use the same
 * elements through {@link #view}s of the ND4J array, on any backend.
 *
 * <p>Either owned (a detached ND4J array of its own) or a view of an existing ND4J array whose elements are
 * contiguous in row-major order, such as a layer's parameter or gradient; {@link #viewOf} refuses other layouts.
 * An instance is used by one thread at a time.
 */
public final class DenseMatrix {
    private final INDArray array;
    private final int length;
    private FloatBuffer floats;
    private DoubleBuffer doubles;

    private DenseMatrix(INDArray array) {
        this.array = array;
        this.length = (int) array.length();
    }

    /**
     * Maps the host buffer on first element access, so that a matrix the ND4J kernels use on a GPU backend is never
     * touched from the host (which would copy it there).
     */
    private void host() {
        if (floats != null || doubles != null) {
            return;
        }
        if (array.dataType() == DataType.DOUBLE) {
            doubles = new DoublePointer(array.data().addressPointer()).capacity(length).asBuffer();
        } else {
            floats = new FloatPointer(array.data().addressPointer()).capacity(length).asBuffer();
        }
    }

    /** The float buffer of a FLOAT matrix, or null for DOUBLE (host memory; CPU kernels only). */
    FloatBuffer floats() {
        host();
        return floats;
    }

    /** The double buffer of a DOUBLE matrix, or null for FLOAT (host memory; CPU kernels only). */
    DoubleBuffer doubles() {
        host();
        return doubles;
    }

    /**
     * A {@code [rows, cols]} ND4J view of the elements from {@code offset} with row stride {@code ld}, sharing this
     * matrix's buffer: how the ND4J kernels address sub-matrices (one attention head's columns, cache rows).
     */
    public INDArray view(long offset, long ld, long rows, long cols) {
        return Nd4j.create(array.data(), new long[] {rows, cols}, new long[] {ld, 1}, offset, 'c');
    }

    /**
     * {@code rows} rows of {@code cols} elements from {@code offset} as float arrays: read from the host buffer on the
     * CPU backend (an ND4J view costs more than a decoding step's logits), through a view elsewhere.
     */
    public float[][] toFloatRows(int offset, int rows, int cols) {
        if (!Nd4j.getEnvironment().isCPU()) {
            return view(offset, cols, rows, cols).toFloatMatrix();
        }
        host();
        float[][] out = new float[rows][cols];
        for (int r = 0; r < rows; r++) {
            if (floats != null) {
                floats.get(offset + r * cols, out[r], 0, cols);
            } else {
                for (int c = 0; c < cols; c++) {
                    out[r][c] = (float) doubles.get(offset + r * cols + c);
                }
            }
        }
        return out;
    }

    /** A new matrix of {@code length} elements (uninitialised), outside any workspace. */
    public static DenseMatrix allocate(DataType dataType, long length) {
        if (dataType != DataType.FLOAT && dataType != DataType.DOUBLE) {
            throw new IllegalArgumentException("direct training supports FLOAT and DOUBLE, not " + dataType);
        }
        try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
            return new DenseMatrix(Nd4j.createUninitializedDetached(dataType, Math.max(1, length)));
        }
    }

    /**
     * A view of {@code array}'s elements in row-major order, or null when they are not one contiguous row-major
     * run starting at its buffer's address (then the caller copies).
     */
    public static DenseMatrix viewOf(INDArray array) {
        boolean contiguous = array.ordering() == 'c' && array.elementWiseStride() == 1
                && array.data().length() == array.length() && !array.isEmpty()
                && (array.dataType() == DataType.FLOAT || array.dataType() == DataType.DOUBLE);
        return contiguous ? new DenseMatrix(array) : null;
    }

    /** The ND4J array holding the elements (the owned array, or the viewed one). */
    public INDArray array() {
        return array;
    }

    public int length() {
        return length;
    }

    public double get(int i) {
        host();
        return floats != null ? floats.get(i) : doubles.get(i);
    }

    public void set(int i, double v) {
        host();
        if (floats != null) {
            floats.put(i, (float) v);
        } else {
            doubles.put(i, v);
        }
    }

    public void add(int i, double v) {
        host();
        if (floats != null) {
            floats.put(i, floats.get(i) + (float) v);
        } else {
            doubles.put(i, doubles.get(i) + v);
        }
    }

    /**
     * Reads elements {@code [from, from + count)} into {@code target} as doubles, in bulk, so that an element-wise
     * loop runs on heap arrays instead of making one buffer access per element (measured 2–4 times faster inside a
     * training step for the GELU's loops).
     * {@code scratch} holds at least {@code count} floats (used for a float matrix).
     */
    public void read(int from, double[] target, int count, float[] scratch) {
        host();
        if (floats != null) {
            floats.get(from, scratch, 0, count);
            for (int i = 0; i < count; i++) {
                target[i] = scratch[i];
            }
        } else {
            doubles.get(from, target, 0, count);
        }
    }

    /** Writes {@code source[0, count)} to elements {@code [from, from + count)}, in bulk (see {@link #read}). */
    public void write(int from, double[] source, int count, float[] scratch) {
        host();
        if (floats != null) {
            for (int i = 0; i < count; i++) {
                scratch[i] = (float) source[i];
            }
            floats.put(from, scratch, 0, count);
        } else {
            doubles.put(from, source, 0, count);
        }
    }

    /** Sets every element to 0. */
    public void zero() {
        array.assign(0);
    }

    /** Sets every element to {@code value}. */
    public void fill(double value) {
        array.assign(value);
    }

    /** Copies the first {@code count} elements into {@code target} (one bulk copy). */
    public void copyTo(DenseMatrix target, int count) {
        host();
        target.host();
        if (floats != null) {
            target.floats().duplicate().put(floats.duplicate().limit(count));
        } else {
            target.doubles().duplicate().put(doubles.duplicate().limit(count));
        }
    }

    /** Copies elements {@code [from, from + count)} to {@code target}'s elements from {@code to} (one bulk copy). */
    public void copyRange(int from, DenseMatrix target, int to, int count) {
        host();
        target.host();
        if (floats != null) {
            target.floats.duplicate().position(to).put(floats.duplicate().position(from).limit(from + count));
        } else {
            target.doubles.duplicate().position(to).put(doubles.duplicate().position(from).limit(from + count));
        }
    }

    /** Copies {@code source}'s elements (any layout, same length) into this matrix in row-major order. */
    public void copyFrom(INDArray source) {
        array.reshape(source.shape()).assign(source);
    }

    /**
     * {@code C[cOff..] = alpha · op(A) · op(B) + beta · C}: row-major, {@code op(A)} is {@code m × k}, {@code op(B)}
     * {@code k × n}; each operand starts at its offset with its leading dimension (row stride), so sub-matrices
     * of wider rows (one attention head's columns of the QKV projection) need no copies.
     */
    static void gemm(boolean transA, boolean transB, int m, int n, int k, double alpha,
                     DenseMatrix a, int aOff, int lda, DenseMatrix b, int bOff, int ldb,
                     double beta, DenseMatrix c, int cOff, int ldc) {
        if (m == 1) {
            rowTimesMatrix(transA ? lda : 1, transB, n, k, alpha, a, aOff, b, bOff, ldb, beta, c, cOff);
            return;
        }
        int ta = transA ? CblasTrans : CblasNoTrans;
        int tb = transB ? CblasTrans : CblasNoTrans;
        // JavaCPP passes a buffer's address plus its position; each operand gets its own duplicate, as two of
        // them may be the same matrix.
        if (c.floats() != null) {
            cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, (float) alpha, a.floats().duplicate().position(aOff), lda,
                    b.floats().duplicate().position(bOff), ldb, (float) beta, c.floats().duplicate().position(cOff), ldc);
        } else {
            cblas_dgemm(CblasRowMajor, ta, tb, m, n, k, alpha, a.doubles().duplicate().position(aOff), lda,
                    b.doubles().duplicate().position(bOff), ldb, beta, c.doubles().duplicate().position(cOff), ldc);
        }
    }

    /**
     * A one-row product (a KV-cached decoding step) as a matrix-vector product: a {@code 1 × n} gemm is OpenBLAS's
     * slow path (see {@link #addColumnSums}). {@code y = x·op(B)}, x read with stride {@code incx}.
     */
    private static void rowTimesMatrix(int incx, boolean transB, int n, int k, double alpha, DenseMatrix a, int aOff,
                                       DenseMatrix b, int bOff, int ldb, double beta, DenseMatrix c, int cOff) {
        // y = op(B)ᵀ·x: B [k, n] row-major is read transposed; B [n, k] (transB) as it is.
        int trans = transB ? CblasNoTrans : CblasTrans;
        int rows = transB ? n : k;
        int cols = transB ? k : n;
        if (c.floats() != null) {
            cblas_sgemv(CblasRowMajor, trans, rows, cols, (float) alpha, b.floats().duplicate().position(bOff), ldb,
                    a.floats().duplicate().position(aOff), incx, (float) beta, c.floats().duplicate().position(cOff), 1);
        } else {
            cblas_dgemv(CblasRowMajor, trans, rows, cols, alpha, b.doubles().duplicate().position(bOff), ldb,
                    a.doubles().duplicate().position(aOff), incx, beta, c.doubles().duplicate().position(cOff), 1);
        }
    }

    /**
     * {@code target += Σ_rows x}: the column sums of the row-major {@code [rows, cols]} matrix {@code x}, as a
     * matrix-vector product with {@code ones} (at least {@code rows} ones); a bias's gradient. (A {@code 1 × n}
     * {@link #gemm} is OpenBLAS's slow path: 30 times slower at {@code [384, 512]}.)
     */
    static void addColumnSums(DenseMatrix x, int rows, int cols, DenseMatrix ones, DenseMatrix target) {
        if (x.floats() != null) {
            cblas_sgemv(CblasRowMajor, CblasTrans, rows, cols, 1f, x.floats().duplicate(), cols, ones.floats().duplicate(), 1,
                    1f, target.floats().duplicate(), 1);
        } else {
            cblas_dgemv(CblasRowMajor, CblasTrans, rows, cols, 1, x.doubles().duplicate(), cols, ones.doubles().duplicate(), 1,
                    1, target.doubles().duplicate(), 1);
        }
    }
}

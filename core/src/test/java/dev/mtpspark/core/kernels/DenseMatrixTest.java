package dev.mtpspark.core.kernels;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import static org.junit.jupiter.api.Assertions.*;

/** {@link DenseMatrix}'s products, column sums, bulk access and views against ND4J's own computations. */
class DenseMatrixTest {

    enum Precision {
        FLOAT(DataType.FLOAT, 1e-5), DOUBLE(DataType.DOUBLE, 1e-12);

        final DataType type;
        final double tolerance;

        Precision(DataType type, double tolerance) {
            this.type = type;
            this.tolerance = tolerance;
        }
    }

    /** A matrix filled from {@code values} (row-major), so DenseMatrix and ND4J see the same numbers. */
    private static DenseMatrix filled(INDArray values) {
        DenseMatrix m = DenseMatrix.allocate(values.dataType(), values.length());
        m.copyFrom(values);
        return m;
    }

    @ParameterizedTest
    @EnumSource(Precision.class)
    void productsOfSubMatricesWithLeadingDimensionsAndTransposesMatchNd4j(Precision p) {
        Nd4j.getRandom().setSeed(3);
        // A is the column block [1, 1 + 4) of a 5 x 7 array, B^T the rows [2, 2 + 3) of a 6 x 4 array, so
        // op(A) = A (5 x 4), op(B) = B^T (4 x 3); C is written into columns [2, 5) of a 5 x 6 array.
        INDArray a = Nd4j.rand(p.type, 5, 7).subi(0.5);
        INDArray b = Nd4j.rand(p.type, 6, 4).subi(0.5);
        INDArray c = Nd4j.rand(p.type, 5, 6);
        DenseMatrix am = filled(a);
        DenseMatrix bm = filled(b);
        DenseMatrix cm = filled(c);
        DenseMatrix.gemm(false, true, 5, 3, 4, 0.5, am, 1, 7, bm, 2 * 4, 4, 2.0, cm, 2, 6);

        INDArray opA = a.get(NDArrayIndex.all(), NDArrayIndex.interval(1, 5));
        INDArray opB = b.get(NDArrayIndex.interval(2, 5), NDArrayIndex.all()).transpose();
        INDArray expected = c.dup();
        expected.get(NDArrayIndex.all(), NDArrayIndex.interval(2, 5)).assign(opA.mmul(opB).muli(0.5)
                .addi(c.get(NDArrayIndex.all(), NDArrayIndex.interval(2, 5)).mul(2.0)));
        INDArray actual = cm.array().reshape(5, 6);
        assertTrue(expected.equalsWithEps(actual, p.tolerance), "expected\n" + expected + "\nactual\n" + actual);

        // A transposed: op(A) = A^T with A stored 4 x 5 (leading dimension 5).
        INDArray at = Nd4j.rand(p.type, 4, 5);
        INDArray bb = Nd4j.rand(p.type, 4, 3);
        DenseMatrix out = DenseMatrix.allocate(p.type, 15);
        DenseMatrix.gemm(true, false, 5, 3, 4, 1, filled(at), 0, 5, filled(bb), 0, 3, 0, out, 0, 3);
        assertTrue(at.transpose().mmul(bb).equalsWithEps(out.array().reshape(5, 3), p.tolerance));
    }

    @ParameterizedTest
    @EnumSource(Precision.class)
    void oneRowProductsGoThroughTheMatrixVectorPathWithTheSameResult(Precision p) {
        Nd4j.getRandom().setSeed(5);
        INDArray x = Nd4j.rand(p.type, 3, 7).subi(0.5);            // row 1, columns [2, 6): op(A) = x[1, 2..6)
        INDArray b = Nd4j.rand(p.type, 4, 9).subi(0.5);            // op(B) = columns [1, 6) of b, 4 x 5
        INDArray bt = Nd4j.rand(p.type, 5, 6).subi(0.5);           // op(B) = bt[:, 1..5)^T, 4 x 5
        INDArray c = Nd4j.rand(p.type, 1, 8);
        INDArray opA = x.get(NDArrayIndex.interval(1, 2), NDArrayIndex.interval(2, 6));
        for (boolean transB : new boolean[] {false, true}) {
            DenseMatrix cm = filled(c);
            INDArray opB = transB ? bt.get(NDArrayIndex.all(), NDArrayIndex.interval(1, 5)).transpose()
                    : b.get(NDArrayIndex.all(), NDArrayIndex.interval(1, 6));
            DenseMatrix.gemm(false, transB, 1, 5, 4, 0.5, filled(x), 7 + 2, 7, filled(transB ? bt : b), 1,
                    transB ? 6 : 9, 2.0, cm, 3, 8);
            INDArray expected = c.dup();
            expected.get(NDArrayIndex.all(), NDArrayIndex.interval(3, 8)).assign(opA.mmul(opB).muli(0.5)
                    .addi(c.get(NDArrayIndex.all(), NDArrayIndex.interval(3, 8)).mul(2.0)));
            assertTrue(expected.equalsWithEps(cm.array().reshape(1, 8), p.tolerance), "transB " + transB + ": " + expected + " vs " + cm.array());
        }
        // op(A) = A^T of a 4 x 1 column stored with leading dimension 3.
        INDArray column = Nd4j.rand(p.type, 4, 3);
        DenseMatrix out = DenseMatrix.allocate(p.type, 5);
        DenseMatrix.gemm(true, false, 1, 5, 4, 1, filled(column), 1, 3, filled(b), 1, 9, 0, out, 0, 5);
        INDArray expected = column.get(NDArrayIndex.all(), NDArrayIndex.interval(1, 2)).transpose()
                .mmul(b.get(NDArrayIndex.all(), NDArrayIndex.interval(1, 6)));
        assertTrue(expected.equalsWithEps(out.array().reshape(1, 5), p.tolerance), expected + " vs " + out.array());
    }

    @ParameterizedTest
    @EnumSource(Precision.class)
    void columnSumsAddToTheTarget(Precision p) {
        INDArray x = Nd4j.rand(p.type, 9, 4).subi(0.5);
        DenseMatrix ones = DenseMatrix.allocate(p.type, 9);
        ones.fill(1);
        DenseMatrix target = filled(Nd4j.createFromArray(1.0, 2.0, 3.0, 4.0).castTo(p.type));
        DenseMatrix.addColumnSums(filled(x), 9, 4, ones, target);
        INDArray expected = x.sum(0).addi(Nd4j.createFromArray(1.0, 2.0, 3.0, 4.0).castTo(p.type));
        assertTrue(expected.equalsWithEps(target.array(), p.tolerance), expected + " vs " + target.array());
    }

    @ParameterizedTest
    @EnumSource(Precision.class)
    void bulkReadsAndWritesAreElementAccess(Precision p) {
        INDArray values = Nd4j.arange(1, 21).castTo(p.type);
        DenseMatrix m = filled(values);
        double[] row = new double[6];
        float[] scratch = new float[6];
        m.read(7, row, 6, scratch);
        for (int i = 0; i < 6; i++) {
            assertEquals(values.getDouble(7 + i), row[i], 0.0);
            row[i] = -row[i];
        }
        m.write(7, row, 6, scratch);
        for (int i = 0; i < 20; i++) {
            double expected = i >= 7 && i < 13 ? -values.getDouble(i) : values.getDouble(i);
            assertEquals(expected, m.get(i), 0.0, "element " + i);
        }
        DenseMatrix copy = DenseMatrix.allocate(p.type, 20);
        m.copyTo(copy, 20);
        assertEquals(m.array(), copy.array());
    }

    @Test
    void viewsShareTheArraysMemoryAndOtherLayoutsAreRefused() {
        INDArray flat = Nd4j.arange(24).castTo(DataType.FLOAT).reshape(1, 24);
        INDArray param = flat.get(NDArrayIndex.point(0), NDArrayIndex.interval(6, 18)).reshape('c', 3, 4);
        DenseMatrix view = DenseMatrix.viewOf(param);
        assertNotNull(view, "a contiguous row-major view, as DL4J's parameter views");
        assertEquals(6.0, view.get(0), 0.0);
        view.set(11, -1);
        assertEquals(-1.0, flat.getDouble(0, 17), 0.0, "writes reach the viewed array");

        INDArray fortran = Nd4j.create(DataType.FLOAT, new long[] {3, 4}, 'f');
        assertNull(DenseMatrix.viewOf(fortran), "column-major");
        INDArray columns = Nd4j.create(DataType.FLOAT, 3, 4).get(NDArrayIndex.all(), NDArrayIndex.interval(1, 3));
        assertNull(DenseMatrix.viewOf(columns), "strided");
        assertNull(DenseMatrix.viewOf(Nd4j.create(DataType.INT, 2, 2)), "not floating point");
        assertThrows(IllegalArgumentException.class, () -> DenseMatrix.allocate(DataType.HALF, 4));
    }
}

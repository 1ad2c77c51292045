package dev.mtpspark.core.model;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TokenEmbeddingTest {
    private static final int B = 3;
    private static final int C = 2;
    private static final int T = 5;
    private static final int V = 7;
    private static final int D = 4;

    @Test
    void rowsAndGradientsMatchTheOneHotProductWrittenOut() {
        Random random = new Random(3);
        double[][][] ids = new double[B][C][T];
        for (double[][] window : ids) {
            for (double[] channel : window) {
                for (int t = 0; t < T; t++) {
                    channel[t] = random.nextInt(3);             // few distinct tokens: many repeats
                }
            }
        }
        INDArray tokens = Nd4j.createFromArray(ids);
        INDArray table = Nd4j.rand(DataType.DOUBLE, V, D);
        INDArray positions = Nd4j.rand(DataType.DOUBLE, T, D);
        INDArray upstream = Nd4j.rand(DataType.DOUBLE, B * T, C * D);

        TokenEmbedding embedding = new TokenEmbedding(tokens, V);
        INDArray rows = embedding.rows(table, positions);
        INDArray tokenGradient = Nd4j.rand(DataType.DOUBLE, V, D);   // overwritten, not added to
        INDArray positionGradient = Nd4j.rand(DataType.DOUBLE, T, D);
        embedding.writeGradients(upstream, tokenGradient, positionGradient);

        double[][] expectedTokenGradient = new double[V][D];
        double[][] expectedPositionGradient = new double[T][D];
        for (int b = 0; b < B; b++) {
            for (int c = 0; c < C; c++) {
                for (int t = 0; t < T; t++) {
                    int id = (int) ids[b][c][t];
                    for (int j = 0; j < D; j++) {
                        double expected = table.getDouble(id, j) + (c == 0 ? positions.getDouble(t, j) : 0);
                        assertEquals(expected, rows.getDouble(b * T + t, c * D + j), 1e-15, "row " + b + "," + c + "," + t);
                        double g = upstream.getDouble(b * T + t, c * D + j);
                        expectedTokenGradient[id][j] += g;
                        if (c == 0) {
                            expectedPositionGradient[t][j] += g;
                        }
                    }
                }
            }
        }
        for (int v = 0; v < V; v++) {
            for (int j = 0; j < D; j++) {
                assertEquals(expectedTokenGradient[v][j], tokenGradient.getDouble(v, j), 1e-12, "token row " + v);
            }
        }
        for (int t = 0; t < T; t++) {
            for (int j = 0; j < D; j++) {
                assertEquals(expectedPositionGradient[t][j], positionGradient.getDouble(t, j), 1e-12, "position row " + t);
            }
        }
    }

    @Test
    void anIdOutsideTheVocabularyIsRejectedWithItsPosition() {
        INDArray tokens = Nd4j.createFromArray(new double[][][] {{{1, 2, 7}}});
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new TokenEmbedding(tokens, 7));
        assertTrue(e.getMessage().contains("[0, 0, 2]") && e.getMessage().contains("[0, 7)"), e.getMessage());
    }
}

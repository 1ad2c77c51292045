package dev.mtpspark.core.model;

import dev.mtpspark.core.config.HeadArchitecture;
import dev.mtpspark.core.config.MtpModelConfig;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.dataset.api.MultiDataSet;

import static org.junit.jupiter.api.Assertions.*;

class MtpBatchesTest {

    @Test
    void labelOfHorizonKAtPositionTIsTokenTPlusK() {
        MtpModelConfig config = TestModels.tiny(HeadArchitecture.SEQUENTIAL, 3).vocabSize(20).contextLength(4).build();
        int[] window = {10, 11, 12, 13, 14, 15, 16};                                // T + n = 7
        MultiDataSet batch = MtpBatches.fromWindows(new int[][] {window}, config, DataType.FLOAT);
        var features = batch.getFeatures(0);
        var labels = batch.getLabels(0);
        assertArrayEquals(new long[] {1, 3, 4}, features.shape());
        assertArrayEquals(new long[] {1, 3, 4}, labels.shape());
        for (int t = 0; t < 4; t++) {
            for (int c = 0; c < 3; c++) {
                assertEquals(window[t + c], features.getInt(0, c, t));
            }
            for (int k = 1; k <= 3; k++) {
                assertEquals(window[t + k], labels.getInt(0, k - 1, t));
            }
        }
    }

    @Test
    void rejectsWindowsOfTheWrongLengthOrWithUnknownIds() {
        MtpModelConfig config = TestModels.tiny(HeadArchitecture.PARALLEL, 2).build();    // T = 5, n = 2, V = 7
        var e = assertThrows(IllegalArgumentException.class,
                () -> MtpBatches.fromWindows(new int[][] {{1, 2, 3, 4, 5, 6}}, config, DataType.FLOAT));
        assertTrue(e.getMessage().contains("window 0 has 6 tokens; expected contextLength + predictedTokens = 5 + 2 = 7"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> MtpBatches.fromWindows(new int[][] {{1, 2, 3, 4, 5, 6, 7}}, config, DataType.FLOAT));
        assertTrue(e.getMessage().contains("token id 7 outside [0, vocabSize = 7)"), e.getMessage());
    }
}

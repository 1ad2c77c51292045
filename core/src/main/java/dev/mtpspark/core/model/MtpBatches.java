package dev.mtpspark.core.model;

import dev.mtpspark.core.config.MtpModelConfig;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.api.MultiDataSet;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Turns packed token windows into model inputs and labels.
 *
 * <p>A window holds exactly T + n tokens x[0..T+n). Features are {@code [B, C, T]} with channel c holding
 * x[t+c] (C = 1, or C = n for sequential heads); labels are {@code [B, n, T]} with row k−1 holding x[t+k],
 * so every horizon has a label at every position and nothing is truncated.
 */
public final class MtpBatches {
    private MtpBatches() {
    }

    /**
     * Builds one batch from {@code windows[b]} of length T + n.
     *
     * @throws IllegalArgumentException naming the window index when a window has the wrong length or a
     *                                  token id outside [0, vocabSize)
     */
    public static MultiDataSet fromWindows(int[][] windows, MtpModelConfig config, DataType dataType) {
        if (windows.length == 0) {
            throw new IllegalArgumentException("a batch needs at least one window");
        }
        for (int b = 0; b < windows.length; b++) {
            int[] w = windows[b];
            if (w.length != config.windowLength()) {
                throw new IllegalArgumentException("window " + b + " has " + w.length + " tokens; expected contextLength + "
                        + "predictedTokens = " + config.contextLength() + " + " + config.predictedTokens() + " = "
                        + config.windowLength());
            }
            for (int i = 0; i < w.length; i++) {
                if (w[i] < 0 || w[i] >= config.vocabSize()) {
                    throw new IllegalArgumentException("window " + b + " position " + i + " has token id " + w[i]
                            + " outside [0, vocabSize = " + config.vocabSize() + ")");
                }
            }
        }
        INDArray labels = shifted(windows, 1, config.predictedTokens(), config.contextLength(), dataType);
        return new org.nd4j.linalg.dataset.MultiDataSet(features(windows, config, dataType), labels);
    }

    /** Features only, for inference over windows of exactly T tokens (look-ahead channels need T + n − 1). */
    public static INDArray features(int[][] windows, MtpModelConfig config, DataType dataType) {
        int needed = config.contextLength() + config.inputChannels() - 1;
        for (int b = 0; b < windows.length; b++) {
            if (windows[b].length < needed) {
                throw new IllegalArgumentException("window " + b + " has " + windows[b].length + " tokens; need at least " + needed);
            }
        }
        return shifted(windows, 0, config.inputChannels(), config.contextLength(), dataType);
    }

    /** {@code [B, rows, T]} where row r at position t holds {@code window[t + firstShift + r]}. */
    private static INDArray shifted(int[][] windows, int firstShift, int rows, int t, DataType dataType) {
        double[][][] out = new double[windows.length][rows][t];
        for (int b = 0; b < windows.length; b++) {
            for (int r = 0; r < rows; r++) {
                for (int pos = 0; pos < t; pos++) {
                    out[b][r][pos] = windows[b][pos + firstShift + r];
                }
            }
        }
        return Nd4j.create(out).castTo(dataType);
    }
}

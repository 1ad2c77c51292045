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
        int t = config.contextLength();
        int n = config.predictedTokens();
        int channels = config.inputChannels();
        double[][][] features = new double[windows.length][channels][t];
        double[][][] labels = new double[windows.length][n][t];
        for (int b = 0; b < windows.length; b++) {
            int[] w = windows[b];
            if (w.length != config.windowLength()) {
                throw new IllegalArgumentException("window " + b + " has " + w.length + " tokens; expected contextLength + "
                        + "predictedTokens = " + t + " + " + n + " = " + config.windowLength());
            }
            for (int i = 0; i < w.length; i++) {
                if (w[i] < 0 || w[i] >= config.vocabSize()) {
                    throw new IllegalArgumentException("window " + b + " position " + i + " has token id " + w[i]
                            + " outside [0, vocabSize = " + config.vocabSize() + ")");
                }
            }
            for (int pos = 0; pos < t; pos++) {
                for (int c = 0; c < channels; c++) {
                    features[b][c][pos] = w[pos + c];
                }
                for (int k = 1; k <= n; k++) {
                    labels[b][k - 1][pos] = w[pos + k];
                }
            }
        }
        INDArray f = Nd4j.create(features).castTo(dataType);
        INDArray l = Nd4j.create(labels).castTo(dataType);
        return new org.nd4j.linalg.dataset.MultiDataSet(f, l);
    }

    /** Features only, for inference over windows of exactly T tokens (look-ahead channels need T + n − 1). */
    public static INDArray features(int[][] windows, MtpModelConfig config, DataType dataType) {
        int t = config.contextLength();
        int channels = config.inputChannels();
        double[][][] features = new double[windows.length][channels][t];
        for (int b = 0; b < windows.length; b++) {
            if (windows[b].length < t + channels - 1) {
                throw new IllegalArgumentException("window " + b + " has " + windows[b].length + " tokens; need at least "
                        + (t + channels - 1));
            }
            for (int c = 0; c < channels; c++) {
                for (int pos = 0; pos < t; pos++) {
                    features[b][c][pos] = windows[b][pos + c];
                }
            }
        }
        return Nd4j.create(features).castTo(dataType);
    }
}

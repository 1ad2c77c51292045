package dev.mtpspark.core.generate;

import dev.mtpspark.core.config.MtpModelConfig;
import dev.mtpspark.core.model.MtpModel;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.util.Arrays;
import java.util.Random;

/**
 * Autoregressive sampling through head 1 only — the ordinary next-token path; the extra heads are not used.
 *
 * <p>The context is the last T tokens, placed at positions 0..L−1 and padded on the right: attention is
 * causal, so the logits at position L−1 do not depend on the padding, and no left-padding artefacts arise.
 */
public final class TextSampler {
    private final MtpModel model;

    public TextSampler(MtpModel model) {
        this.model = model;
    }

    /**
     * Generates {@code maxNewTokens} ids after {@code prompt} (which must hold at least one id).
     *
     * @param temperature 0 for greedy decoding, otherwise the softmax temperature
     * @param topK        keep only the k most likely ids before sampling (0 = all)
     */
    public int[] generate(int[] prompt, int maxNewTokens, double temperature, int topK, Random random) {
        if (prompt.length == 0) {
            throw new IllegalArgumentException("the prompt needs at least one token (use the tokenizer's end-of-text id to start a document)");
        }
        if (temperature < 0 || topK < 0) {
            throw new IllegalArgumentException("temperature and top-k must be ≥ 0, got " + temperature + " and " + topK);
        }
        MtpModelConfig config = model.config();
        int t = config.contextLength();
        int channels = config.inputChannels();
        int[] tokens = Arrays.copyOf(prompt, prompt.length + maxNewTokens);
        int length = prompt.length;
        for (int i = 0; i < maxNewTokens; i++) {
            int from = Math.max(0, length - t);
            int used = length - from;
            double[][][] features = new double[1][channels][t];
            for (int c = 0; c < channels; c++) {
                for (int p = 0; p + c < used; p++) {
                    features[0][c][p] = tokens[from + p + c];
                }
            }
            INDArray input = Nd4j.create(features).castTo(DataType.FLOAT);
            INDArray logits = model.logits(input).get(NDArrayIndex.point(0), NDArrayIndex.point(0), NDArrayIndex.point(used - 1), NDArrayIndex.all());
            tokens[length++] = pick(logits.toDoubleVector(), temperature, topK, random);
        }
        return Arrays.copyOfRange(tokens, prompt.length, length);
    }

    static int pick(double[] logits, double temperature, int topK, Random random) {
        if (temperature == 0) {
            int best = 0;
            for (int i = 1; i < logits.length; i++) {
                if (logits[i] > logits[best]) {
                    best = i;
                }
            }
            return best;
        }
        double cutoff = Double.NEGATIVE_INFINITY;
        if (topK > 0 && topK < logits.length) {
            double[] sorted = logits.clone();
            Arrays.sort(sorted);
            cutoff = sorted[sorted.length - topK];
        }
        double max = Arrays.stream(logits).max().orElse(0);
        double[] p = new double[logits.length];
        double sum = 0;
        for (int i = 0; i < logits.length; i++) {
            p[i] = logits[i] >= cutoff ? Math.exp((logits[i] - max) / temperature) : 0;
            sum += p[i];
        }
        double u = random.nextDouble() * sum;
        for (int i = 0; i < p.length; i++) {
            u -= p[i];
            if (u <= 0 && p[i] > 0) {
                return i;
            }
        }
        for (int i = p.length - 1; i >= 0; i--) {
            if (p[i] > 0) {
                return i;
            }
        }
        return 0;
    }
}

package dev.mtpspark.core.model;

import dev.mtpspark.core.config.MtpModelConfig;

import java.io.Serializable;
import java.util.Arrays;

/**
 * Per-horizon loss weights as a function of the training step, such as DeepSeek-V3's 0.3 → 0.1 on the
 * extra horizons. Apply with {@link MtpModel#setLossWeights} before a step; the model is not rebuilt.
 */
public final class HorizonWeightSchedule implements Serializable {
    private final double[] start;
    private final double[] end;
    private final long fromStep;
    private final long toStep;

    private HorizonWeightSchedule(double[] start, double[] end, long fromStep, long toStep) {
        this.start = start;
        this.end = end;
        this.fromStep = fromStep;
        this.toStep = toStep;
    }

    /** The same weights at every step. */
    public static HorizonWeightSchedule constant(double[] weights) {
        double[] w = MtpModelConfig.validateWeights(weights, weights.length);
        return new HorizonWeightSchedule(w, w, 0, 0);
    }

    /**
     * {@code start} until {@code fromStep}, linear interpolation to {@code end} at {@code toStep}, {@code end}
     * after. {@code fromStep == toStep} switches at once.
     */
    public static HorizonWeightSchedule linear(double[] start, double[] end, long fromStep, long toStep) {
        double[] s = MtpModelConfig.validateWeights(start, start.length);
        double[] e = MtpModelConfig.validateWeights(end, start.length);
        if (fromStep < 0 || toStep < fromStep) {
            throw new IllegalArgumentException("schedule steps must satisfy 0 ≤ fromStep ≤ toStep, got " + fromStep + " and " + toStep);
        }
        return new HorizonWeightSchedule(s, e, fromStep, toStep);
    }

    /**
     * DeepSeek-V3's form: weight 1 on horizon 1 and {@code early} on the others until {@code switchStep},
     * {@code late} from then on.
     */
    public static HorizonWeightSchedule extraHorizons(int n, double early, double late, long switchStep) {
        double[] s = new double[n];
        double[] e = new double[n];
        Arrays.fill(s, early);
        Arrays.fill(e, late);
        s[0] = 1;
        e[0] = 1;
        return linear(s, e, switchStep, switchStep);
    }

    /** The weights in force at a step. */
    public double[] weightsAt(long step) {
        if (step < fromStep) {
            return start.clone();
        }
        if (step >= toStep) {
            return end.clone();
        }
        double f = (double) (step - fromStep) / (toStep - fromStep);
        double[] w = new double[start.length];
        for (int k = 0; k < w.length; k++) {
            w[k] = start[k] + f * (end[k] - start[k]);
        }
        return w;
    }
}

package dev.mtpspark.core.train;

import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.nd4j.linalg.learning.config.Adam;

import java.io.Serializable;

/**
 * AdamW with a warm-up + cosine learning-rate schedule, decoupled weight decay and gradient clipping, applied
 * to a DL4J network configuration.
 *
 * <p>Weight decay is DL4J's {@code WeightDecay} with {@code applyLR = true}, i.e. {@code θ ← θ − lr·λ·θ} after
 * the Adam step (AdamW, Loshchilov &amp; Hutter). It applies to weight matrices (embeddings, projections,
 * unembedding) and not to biases or norm gains, like nanoGPT's decay groups.
 *
 * @param learningRate    peak learning rate
 * @param minLearningRate floor reached at the end of the cosine decay
 * @param warmupSteps     linear warm-up length in optimizer steps
 * @param decaySteps      step at which the cosine reaches the floor (usually the total steps)
 * @param beta1           Adam β1
 * @param beta2           Adam β2
 * @param epsilon         Adam ε
 * @param weightDecay     decoupled weight-decay coefficient λ (0 disables)
 * @param clipping        gradient clipping mode
 * @param clipThreshold   clipping threshold (ignored for {@link GradientClipping#NONE})
 */
public record OptimizerSettings(double learningRate, double minLearningRate, int warmupSteps, int decaySteps,
                                double beta1, double beta2, double epsilon, double weightDecay,
                                GradientClipping clipping, double clipThreshold) implements Serializable {

    /** nanoGPT's shakespeare-char CPU recipe for a run of {@code steps}. */
    public static OptimizerSettings nanoGptRecipe(int steps) {
        return new OptimizerSettings(1e-3, 1e-4, Math.min(100, steps / 10), steps, 0.9, 0.99, 1e-8, 0.1,
                GradientClipping.L2_PER_LAYER, 1.0);
    }

    public WarmupCosineSchedule schedule() {
        return new WarmupCosineSchedule(learningRate, minLearningRate, warmupSteps, decaySteps);
    }

    /** The learning rate in force at an optimizer step (0-based). */
    public double learningRateAt(long step) {
        return schedule().valueAt((int) Math.min(Integer.MAX_VALUE, step), 0);
    }

    public Adam updater() {
        Adam adam = new Adam(schedule());
        adam.setBeta1(beta1);
        adam.setBeta2(beta2);
        adam.setEpsilon(epsilon);
        return adam;
    }

    /** Sets updater, weight decay and clipping on a DL4J builder. */
    public NeuralNetConfiguration.Builder applyTo(NeuralNetConfiguration.Builder builder) {
        builder.updater(updater());
        if (weightDecay > 0) {
            builder.weightDecay(weightDecay, true);
        }
        if (clipping != GradientClipping.NONE) {
            builder.gradientNormalization(clipping.dl4j()).gradientNormalizationThreshold(clipThreshold);
        }
        return builder;
    }
}

package dev.mtpspark.core.train;

import org.deeplearning4j.nn.conf.GradientNormalization;

/**
 * Gradient clipping modes DL4J can apply inside its updater. DL4J has no global-norm clipping (PyTorch's
 * {@code clip_grad_norm_}); {@link #L2_PER_LAYER} is the closest: each layer's gradient is scaled to L2 norm
 * ≤ threshold, so the global norm is bounded by threshold·√layers.
 */
public enum GradientClipping {
    NONE(GradientNormalization.None),
    L2_PER_LAYER(GradientNormalization.ClipL2PerLayer),
    L2_PER_PARAMETER(GradientNormalization.ClipL2PerParamType),
    ELEMENT_WISE(GradientNormalization.ClipElementWiseAbsoluteValue);

    private final GradientNormalization dl4j;

    GradientClipping(GradientNormalization dl4j) {
        this.dl4j = dl4j;
    }

    public GradientNormalization dl4j() {
        return dl4j;
    }
}

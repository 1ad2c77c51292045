package dev.mtpspark.core.config;

/**
 * The order in which a training step computes the n output heads. Both orders give the same losses and
 * gradients (to rounding); they differ in peak memory and in how many graph executions a step needs.
 */
public enum HeadOrder {
    /** One graph computes every head's logits, losses and gradients together: n {@code [B, T, V]} logit arrays live at once. */
    ALL_AT_ONCE,
    /**
     * Gloeckle et al. 2024, section 2: the trunk runs forward once; then each head in turn runs forward and
     * backward, its logits are freed and its gradient is accumulated at the trunk output; the trunk runs
     * backward once. Only one head's logits live at a time, so peak memory grows with V + d instead of n·V + d.
     */
    PER_HEAD
}

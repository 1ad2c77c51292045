package dev.mtpspark.core.config;

/** Normalisation used in every pre-norm position and in the final norm before the unembedding. */
public enum NormType {
    /** Mean and variance normalisation with learned gain and bias. */
    LAYER_NORM,
    /** Root-mean-square normalisation with learned gain only (no centring, no bias). */
    RMS_NORM
}

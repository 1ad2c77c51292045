package dev.mtpspark.core.config;

/** How token positions enter the model. */
public enum PositionalEncoding {
    /** A learned [T, d] table added to the token embedding (GPT-2, nanoGPT). */
    LEARNED,
    /** Rotary position embedding applied to queries and keys in every attention layer. */
    ROPE
}

package dev.mtpspark.core.config;

/** How the n output heads turn the trunk's hidden state into per-horizon predictions. */
public enum HeadArchitecture {
    /**
     * Gloeckle et al. 2024: n independent transformer blocks applied in parallel to the trunk output;
     * head k predicts token t+k.
     */
    PARALLEL,
    /**
     * DeepSeek-V3 style: head 1 is the trunk output itself; depth k ≥ 2 projects the concatenation of
     * the normalised previous depth's hidden state and the normalised embedding of token t+k−1, then
     * applies one transformer block. Embedding and unembedding are shared with the main model.
     */
    SEQUENTIAL,
    /** Ablation from the paper: each head is a single linear map (no transformer block). */
    LINEAR
}

package dev.mtpspark.core.model;

/**
 * Number of trainable parameters per part of an MTP model.
 *
 * @param embedding   token (and learned position) embedding tables
 * @param trunk       shared trunk blocks
 * @param heads       the n output heads (blocks, projections and norms of the heads)
 * @param unembedding shared final norm and unembedding matrix
 */
public record ParameterCounts(long embedding, long trunk, long heads, long unembedding) {
    public long total() {
        return embedding + trunk + heads + unembedding;
    }

    @Override
    public String toString() {
        return String.format("parameters: embedding %,d · trunk %,d · heads %,d · unembedding %,d · total %,d",
                embedding, trunk, heads, unembedding, total());
    }
}

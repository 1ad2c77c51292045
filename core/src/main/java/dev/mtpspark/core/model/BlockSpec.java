package dev.mtpspark.core.model;

import dev.mtpspark.core.config.MtpModelConfig;
import dev.mtpspark.core.config.NormType;
import dev.mtpspark.core.config.PositionalEncoding;

import java.io.Serializable;

/**
 * The shape of every transformer block and norm in one model, as a JSON-serialisable bean: DL4J writes
 * layer configurations to JSON (model files, Spark broadcasts), so each custom layer carries one of these
 * instead of the {@link MtpModelConfig} record.
 */
public class BlockSpec implements Serializable {
    private int modelWidth;
    private int attentionHeads;
    private int mlpWidth;
    private int contextLength;
    private NormType normType;
    private PositionalEncoding positionalEncoding;
    private double normEpsilon;
    private double initStd;
    /** Number of residual blocks in the whole model; output projections are scaled by 1/sqrt(2·blocks) (GPT-2). */
    private int residualBlocks;
    private long seed;

    /** For JSON. */
    public BlockSpec() {
    }

    public static BlockSpec of(MtpModelConfig c, int residualBlocks) {
        BlockSpec s = new BlockSpec();
        s.modelWidth = c.modelWidth();
        s.attentionHeads = c.attentionHeads();
        s.mlpWidth = c.mlpWidth();
        s.contextLength = c.contextLength();
        s.normType = c.normType();
        s.positionalEncoding = c.positionalEncoding();
        s.normEpsilon = c.normEpsilon();
        s.initStd = c.initStd();
        s.residualBlocks = Math.max(1, residualBlocks);
        s.seed = c.seed();
        return s;
    }

    public int headWidth() {
        return modelWidth / attentionHeads;
    }

    public int getModelWidth() { return modelWidth; }
    public void setModelWidth(int v) { modelWidth = v; }
    public int getAttentionHeads() { return attentionHeads; }
    public void setAttentionHeads(int v) { attentionHeads = v; }
    public int getMlpWidth() { return mlpWidth; }
    public void setMlpWidth(int v) { mlpWidth = v; }
    public int getContextLength() { return contextLength; }
    public void setContextLength(int v) { contextLength = v; }
    public NormType getNormType() { return normType; }
    public void setNormType(NormType v) { normType = v; }
    public PositionalEncoding getPositionalEncoding() { return positionalEncoding; }
    public void setPositionalEncoding(PositionalEncoding v) { positionalEncoding = v; }
    public double getNormEpsilon() { return normEpsilon; }
    public void setNormEpsilon(double v) { normEpsilon = v; }
    public double getInitStd() { return initStd; }
    public void setInitStd(double v) { initStd = v; }
    public int getResidualBlocks() { return residualBlocks; }
    public void setResidualBlocks(int v) { residualBlocks = v; }
    public long getSeed() { return seed; }
    public void setSeed(long v) { seed = v; }
}

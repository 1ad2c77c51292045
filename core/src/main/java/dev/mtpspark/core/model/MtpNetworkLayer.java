package dev.mtpspark.core.model;

import dev.mtpspark.core.config.HeadArchitecture;
import dev.mtpspark.core.config.MtpModelConfig;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.samediff.SDLayerParams;
import org.deeplearning4j.nn.conf.layers.samediff.SameDiffOutputLayer;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.shade.jackson.annotation.JsonIgnoreProperties;

import java.util.Collection;
import java.util.Map;

/**
 * The DL4J configuration of the whole network as one output layer (a DL4J graph cannot share a parameter between
 * layers, and the unembedding is shared by every head). DL4J serialises it to JSON with every model and Spark
 * broadcasts it; {@link MtpOutputLayer} computes it with {@link MtpNetwork}.
 *
 * <p>It extends DL4J's SameDiff output-layer configuration only for its parameter handling: named views of one
 * flat parameter vector, laid out by {@link ParameterLayout#define}, which is the layout of every checkpoint
 * written so far. No SameDiff graph is ever built ({@link #defineLayer} refuses). Unknown JSON properties are
 * ignored, so checkpoints that still name the removed {@code headOrder} load.
 *
 * <p>Input {@code [B, C, T]}: token ids as numbers (C = n for sequential heads: the look-ahead tokens). Labels
 * {@code [B, n, T]}. Activations: the logits {@code [B, n, T, V]}. The loss weights are a field read at every step,
 * so a schedule changes them in place ({@link #setLossWeights}).
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public class MtpNetworkLayer extends SameDiffOutputLayer {
    private BlockSpec spec;
    private int vocabSize;
    private int trunkDepth;
    private int predictedTokens;
    private HeadArchitecture headArchitecture;
    private double[] lossWeights;
    private double dropout;
    private int stepThreads;

    /** For JSON. */
    public MtpNetworkLayer() {
    }

    public MtpNetworkLayer(BlockSpec spec, MtpModelConfig config) {
        this.spec = spec;
        this.vocabSize = config.vocabSize();
        this.trunkDepth = config.trunkDepth();
        this.predictedTokens = config.predictedTokens();
        this.headArchitecture = config.headArchitecture();
        this.lossWeights = config.lossWeights();
        this.dropout = config.dropout();
        this.stepThreads = config.stepThreads();
    }

    NetworkShape shape() {
        return NetworkShape.of(this);
    }

    /**
     * The threads a training step may use: the configured {@code stepThreads}, or with 0 the CPU cores this JVM
     * may use; 1 on a GPU backend (its device is one stream).
     */
    int threadBudget(boolean cpuBackend) {
        return !cpuBackend ? 1 : stepThreads > 0 ? stepThreads : Runtime.getRuntime().availableProcessors();
    }

    /** How many shards a training step of {@code batch} windows uses: one per thread of the budget, at most one per window. */
    int shardsFor(long batch, boolean cpuBackend) {
        return (int) Math.max(1, Math.min(threadBudget(cpuBackend), batch));
    }

    @Override
    public SDVariable defineLayer(SameDiff sd, SDVariable input, SDVariable labels, Map<String, SDVariable> params) {
        throw new UnsupportedOperationException("the MTP network is computed by MtpNetwork, not by a SameDiff graph");
    }

    @Override
    public String activationsVertexName() {
        return "logits";
    }

    @Override
    public void defineParameters(SDLayerParams params) {
        new ParameterLayout(shape()).define(params);
    }

    @Override
    public void initializeParameters(Map<String, INDArray> params) {
        new ParameterLayout(shape()).initialise(params, getLayerName());
    }

    @Override
    public InputType getOutputType(int layerIndex, InputType inputType) {
        return InputType.recurrent((long) predictedTokens * vocabSize, spec.getContextLength());
    }

    @Override
    public Layer instantiate(NeuralNetConfiguration conf, Collection<TrainingListener> listeners, int index,
                             INDArray paramsView, boolean initialize, DataType dataType) {
        MtpOutputLayer layer = new MtpOutputLayer(conf, dataType);
        layer.setIndex(index);
        layer.setParamsViewArray(paramsView);
        layer.setParamTable(initializer().init(conf, paramsView, initialize));
        layer.setConf(conf);
        return layer;
    }

    /**
     * Changes the per-horizon loss weights from the next step on.
     *
     * @throws dev.mtpspark.core.config.InvalidConfigException when the weights are invalid for n horizons
     */
    public void setLossWeights(double[] weights) {
        this.lossWeights = MtpModelConfig.validateWeights(weights, predictedTokens == 0 ? weights.length : predictedTokens);
    }

    public double[] getLossWeights() { return lossWeights == null ? null : lossWeights.clone(); }
    public BlockSpec getSpec() { return spec; }
    public void setSpec(BlockSpec spec) { this.spec = spec; }
    public int getVocabSize() { return vocabSize; }
    public void setVocabSize(int vocabSize) { this.vocabSize = vocabSize; }
    public int getPredictedTokens() { return predictedTokens; }
    public void setPredictedTokens(int predictedTokens) { this.predictedTokens = predictedTokens; }
    public int getTrunkDepth() { return trunkDepth; }
    public void setTrunkDepth(int trunkDepth) { this.trunkDepth = trunkDepth; }
    public double getDropout() { return dropout; }
    public void setDropout(double dropout) { this.dropout = dropout; }
    public HeadArchitecture getHeadArchitecture() { return headArchitecture; }
    public void setHeadArchitecture(HeadArchitecture headArchitecture) { this.headArchitecture = headArchitecture; }
    public int getStepThreads() { return stepThreads; }
    /** Takes effect at the next training step; the layer reads it per step. */
    public void setStepThreads(int stepThreads) { this.stepThreads = stepThreads; }
}

package dev.mtpspark.core.model;

import dev.mtpspark.core.config.HeadArchitecture;
import dev.mtpspark.core.config.HeadOrder;
import dev.mtpspark.core.config.MtpModelConfig;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.samediff.SDLayerParams;
import org.deeplearning4j.nn.conf.layers.samediff.SameDiffOutputLayer;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.nd4j.autodiff.samediff.SDIndex;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.shade.jackson.annotation.JsonIgnore;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * The n output heads, the shared final norm and the shared unembedding, with the weighted loss
 * {@code Σ_k w_k · CE_k}. Everything that shares the unembedding lives in this one layer because a DL4J
 * graph cannot share a parameter between layers.
 *
 * <p>Input {@code [B, C, T]}: the trunk output (C = d), or for sequential heads the trunk output followed by
 * the embeddings of the look-ahead tokens x[t+1..t+n−1] (C = n·d). Labels {@code [B, n, T]}: row k−1 holds
 * x[t+k]. Activations (what {@code output()} returns) are the logits {@code [B, n, T, V]}. The loss variable
 * is the batch sum of the per-example loss, which DL4J divides by the batch size.
 *
 * <p>Each head's graph is built by {@link #headHidden}, {@link #logits} and {@link #horizonLoss}, which take
 * the trunk output and nothing from other heads (except the previous depth for sequential heads). With
 * {@link HeadOrder#PER_HEAD}, training uses {@link #defineHeadGraph} instead of the all-heads graph: one small
 * graph per head, run one after the other by {@link PerHeadOutputLayer} — the paper's memory-efficient order.
 *
 * <p>The loss weights are a constant of the built graph; {@link #setLossWeights(double[])} updates both this
 * configuration (which DL4J serialises and Spark broadcasts) and the built graph's array, so a schedule can
 * change them during training without rebuilding the model.
 */
public class MtpHeadLayer extends SameDiffOutputLayer {
    public static final String ACTIVATIONS = "mtp_logits";
    public static final String UNEMBEDDING = "unembedW";
    public static final String FINAL_NORM = "finalNorm";

    private BlockSpec spec;
    private int vocabSize;
    private int predictedTokens;
    private HeadArchitecture headArchitecture;
    private double[] lossWeights;
    private HeadOrder headOrder = HeadOrder.ALL_AT_ONCE;

    /** The weight constants of every graph built from this configuration, updated by {@link #setLossWeights}. */
    @JsonIgnore
    private transient List<INDArray> builtWeights;

    /** For JSON. */
    public MtpHeadLayer() {
    }

    public MtpHeadLayer(BlockSpec spec, MtpModelConfig config) {
        this.spec = spec;
        this.vocabSize = config.vocabSize();
        this.predictedTokens = config.predictedTokens();
        this.headArchitecture = config.headArchitecture();
        this.lossWeights = config.lossWeights();
        this.headOrder = config.headOrder();
    }

    /** Parameter-name prefix of head k (1-based); DL4J parameter names must not contain underscores. */
    public static String headPrefix(int k) {
        return "h" + k;
    }

    @Override
    public SDVariable defineLayer(SameDiff sd, SDVariable input, SDVariable labels, Map<String, SDVariable> p) {
        DataType dt = input.dataType();
        TransformerOps ops = new TransformerOps(sd, spec, dt);
        int d = spec.getModelWidth();
        int t = spec.getContextLength();
        int channels = headArchitecture == HeadArchitecture.SEQUENTIAL ? predictedTokens * d : d;
        SDVariable rows = ops.toRows(input, channels);
        SDVariable trunk = channels == d ? rows : rows.get(SDIndex.all(), SDIndex.interval(0, d));

        SDVariable[] logits = new SDVariable[predictedTokens];
        SDVariable[] losses = new SDVariable[predictedTokens];
        SDVariable previous = trunk;
        for (int k = 1; k <= predictedTokens; k++) {
            SDVariable lookAhead = headArchitecture == HeadArchitecture.SEQUENTIAL && k >= 2
                    ? rows.get(SDIndex.all(), SDIndex.interval((k - 1) * d, k * d)) : null;
            SDVariable hidden = headHidden(ops, k, trunk, previous, lookAhead, p);
            previous = hidden;
            logits[k - 1] = logits(ops, hidden, p);
            SDVariable labelsK = labels.get(SDIndex.all(), SDIndex.point(k - 1), SDIndex.all());
            losses[k - 1] = horizonLoss(sd, k, logits[k - 1], labelsK);
        }

        SDVariable[] perHorizonLogits = new SDVariable[predictedTokens];
        for (int k = 0; k < predictedTokens; k++) {
            perHorizonLogits[k] = sd.reshape(logits[k], -1, t, vocabSize);
        }
        sd.stack(ACTIVATIONS, 1, perHorizonLogits);                                     // [B, n, T, V]

        SDVariable weights = sd.constant("horizon_weights", newWeightArray(dt));
        SDVariable horizonLosses = sd.stack(0, losses);                                   // [n]
        SDVariable total = horizonLosses.mul(weights).sum();
        sd.setLossVariables(total);
        return total;
    }

    private synchronized INDArray newWeightArray(DataType dt) {
        INDArray w = Nd4j.createFromArray(lossWeights).castTo(dt);
        if (builtWeights == null) {
            builtWeights = new ArrayList<>();
        }
        builtWeights.add(w);
        return w;
    }

    /** Names of the variables of a graph built by {@link #defineHeadGraph}. */
    static final String HEAD_INPUT = "input";
    static final String HEAD_LABELS = "labels";
    /** Sequential heads, k ≥ 2: the previous depth's hidden state {@code [N, d]}. */
    static final String HEAD_PREVIOUS = "previous";
    /** Sequential heads, k < n: dL/d(hidden_k) from the later depths, {@code [N, d]}. */
    static final String HEAD_UPSTREAM = "upstream";
    static final String HEAD_HIDDEN = "hidden";
    /** w_k · (batch sum of the per-example mean CE of horizon k): head k's share of the layer's loss. */
    static final String HEAD_LOSS = "weightedLoss";

    /**
     * Defines the graph of head k alone, for {@link HeadOrder#PER_HEAD}: placeholders {@link #HEAD_INPUT} and
     * {@link #HEAD_LABELS} shaped like the layer's; output {@link #HEAD_HIDDEN} and {@link #HEAD_LOSS}. The
     * loss variable is {@code HEAD_LOSS}, plus {@code Σ hidden ⊙ upstream} for a sequential head with later
     * depths: its gradient then carries the later depths' gradient through this depth (a vector-Jacobian
     * product), so depths can be back-propagated one at a time from the last.
     *
     * @param parameter creates (on first use) the variable of a layer parameter; only parameters head k uses are created
     */
    void defineHeadGraph(SameDiff sd, int k, long[] inputShape, long[] labelShape, DataType dt,
                         Function<String, SDVariable> parameter) {
        TransformerOps ops = new TransformerOps(sd, spec, dt);
        int d = spec.getModelWidth();
        boolean sequential = headArchitecture == HeadArchitecture.SEQUENTIAL;
        int channels = sequential ? predictedTokens * d : d;
        SDVariable input = sd.placeHolder(HEAD_INPUT, dt, inputShape);
        SDVariable labels = sd.placeHolder(HEAD_LABELS, dt, labelShape);
        Map<String, SDVariable> p = new LazyParameters(parameter);

        SDVariable rows = ops.toRows(input, channels);
        SDVariable trunk = channels == d ? rows : rows.get(SDIndex.all(), SDIndex.interval(0, d));
        SDVariable previous = sequential && k >= 2 ? sd.placeHolder(HEAD_PREVIOUS, dt, -1, d) : trunk;
        SDVariable lookAhead = sequential && k >= 2 ? rows.get(SDIndex.all(), SDIndex.interval((k - 1) * d, k * d)) : null;
        SDVariable hidden = headHidden(ops, k, trunk, previous, lookAhead, p);
        // A named identity, so HEAD_HIDDEN exists even where the hidden state is the trunk itself (k = 1).
        hidden = sd.identity(HEAD_HIDDEN, hidden);
        SDVariable labelsK = labels.get(SDIndex.all(), SDIndex.point(k - 1), SDIndex.all());
        SDVariable loss = horizonLoss(sd, k, logits(ops, hidden, p), labelsK);
        SDVariable weight = sd.constant("horizon_weights", newWeightArray(dt)).get(SDIndex.point(k - 1));
        SDVariable weighted = loss.mul(HEAD_LOSS, weight);
        if (sequential && k < predictedTokens) {
            SDVariable upstream = sd.placeHolder(HEAD_UPSTREAM, dt, -1, d);
            sd.setLossVariables(weighted.add(hidden.mul(upstream).sum()));
        } else {
            sd.setLossVariables(weighted);
        }
    }

    /** A parameter map that creates each variable when a graph first reads it. */
    private static final class LazyParameters extends LinkedHashMap<String, SDVariable> {
        private final transient Function<String, SDVariable> factory;

        LazyParameters(Function<String, SDVariable> factory) {
            this.factory = factory;
        }

        @Override
        public SDVariable get(Object name) {
            return computeIfAbsent((String) name, factory);
        }
    }

    /**
     * Hidden state of head k from the trunk output {@code [N, d]}: a block (parallel), a linear map
     * (linear), or for sequential heads the trunk itself at k = 1 and
     * {@code block(M_k [norm(h_{k−1}); norm(emb(x[t+k−1]))])} after.
     */
    SDVariable headHidden(TransformerOps ops, int k, SDVariable trunk, SDVariable previous, SDVariable lookAhead,
                          Map<String, SDVariable> p) {
        String prefix = headPrefix(k);
        return switch (headArchitecture) {
            case PARALLEL -> ops.block(prefix, trunk, p);
            case LINEAR -> trunk.mmul(p.get(prefix + "linW")).add(p.get(prefix + "linBias"));
            case SEQUENTIAL -> {
                if (k == 1) {
                    yield trunk;
                }
                SDVariable combined = ops.concatFeatures(ops.norm(prefix + "hnorm", previous, p),
                        ops.norm(prefix + "enorm", lookAhead, p));
                yield ops.block(prefix, combined.mmul(p.get(prefix + "projW")), p);
            }
        };
    }

    /** Shared final norm and unembedding: {@code [N, d] → [N, V]}. */
    SDVariable logits(TransformerOps ops, SDVariable hidden, Map<String, SDVariable> p) {
        return ops.norm(FINAL_NORM, hidden, p).mmul(p.get(UNEMBEDDING));
    }

    /** Batch sum of the per-example mean cross-entropy of horizon k; {@code labelsK} is {@code [B, T]}. */
    SDVariable horizonLoss(SameDiff sd, int k, SDVariable logits, SDVariable labelsK) {
        SDVariable ids = sd.reshape(labelsK, -1).castTo(DataType.INT);
        // Not sd.loss.sparseSoftmaxCrossEntropy: its gradient (M2.1) ignores the incoming gradient, which
        // would silently drop the horizon weight and the 1/T factor. logSoftmax without a dimension (last axis):
        // the variant with one fails to clone when the gradient graph is built.
        SDVariable oneHot = sd.oneHot(ids, vocabSize, -1, 1.0, 0.0, logits.dataType());
        SDVariable logLikelihood = sd.nn.logSoftmax(logits).mul(oneHot).sum();
        return logLikelihood.mul("loss_h" + k, -1.0 / spec.getContextLength());
    }

    @Override
    public String activationsVertexName() {
        return ACTIVATIONS;
    }

    @Override
    public void defineParameters(SDLayerParams params) {
        int d = spec.getModelWidth();
        for (int k = 1; k <= predictedTokens; k++) {
            String prefix = headPrefix(k);
            switch (headArchitecture) {
                case PARALLEL -> TransformerOps.defineBlockParams(params, prefix, spec);
                case LINEAR -> {
                    params.addWeightParam(prefix + "linW", d, d);
                    params.addBiasParam(prefix + "linBias", 1, d);
                }
                case SEQUENTIAL -> {
                    if (k >= 2) {
                        TransformerOps.defineNormParams(params, prefix + "hnorm", spec);
                        TransformerOps.defineNormParams(params, prefix + "enorm", spec);
                        params.addWeightParam(prefix + "projW", 2L * d, d);
                        TransformerOps.defineBlockParams(params, prefix, spec);
                    }
                }
            }
        }
        TransformerOps.defineNormParams(params, FINAL_NORM, spec);
        params.addWeightParam(UNEMBEDDING, d, vocabSize);
    }

    @Override
    public void initializeParameters(Map<String, INDArray> params) {
        TransformerOps.initParams(params, spec, getLayerName());
    }

    @Override
    public InputType getOutputType(int layerIndex, InputType inputType) {
        return InputType.recurrent((long) predictedTokens * vocabSize, spec.getContextLength());
    }

    @Override
    public Layer instantiate(NeuralNetConfiguration conf, Collection<TrainingListener> listeners, int index,
                             INDArray paramsView, boolean initialize, DataType dataType) {
        LayerImplementations.OutputLayer layer = headOrder == HeadOrder.PER_HEAD
                ? new PerHeadOutputLayer(conf, dataType) : new LayerImplementations.OutputLayer(conf, dataType);
        return LayerImplementations.wire(layer, this, conf, index, paramsView, initialize);
    }

    /**
     * Changes the per-horizon loss weights of this layer and of its already built graph, if any.
     *
     * @throws dev.mtpspark.core.config.InvalidConfigException when the weights are invalid for n horizons
     */
    public void setLossWeights(double[] weights) {
        double[] valid = MtpModelConfig.validateWeights(weights, predictedTokens == 0 ? weights.length : predictedTokens);
        this.lossWeights = valid;
        synchronized (this) {
            if (builtWeights != null) {
                for (INDArray w : builtWeights) {
                    w.assign(Nd4j.createFromArray(valid).castTo(w.dataType()));
                }
            }
        }
    }

    public double[] getLossWeights() { return lossWeights == null ? null : lossWeights.clone(); }
    public BlockSpec getSpec() { return spec; }
    public void setSpec(BlockSpec spec) { this.spec = spec; }
    public int getVocabSize() { return vocabSize; }
    public void setVocabSize(int vocabSize) { this.vocabSize = vocabSize; }
    public int getPredictedTokens() { return predictedTokens; }
    public void setPredictedTokens(int predictedTokens) { this.predictedTokens = predictedTokens; }
    public HeadArchitecture getHeadArchitecture() { return headArchitecture; }
    public HeadOrder getHeadOrder() { return headOrder; }
    public void setHeadOrder(HeadOrder headOrder) { this.headOrder = headOrder == null ? HeadOrder.ALL_AT_ONCE : headOrder; }
    public void setHeadArchitecture(HeadArchitecture headArchitecture) { this.headArchitecture = headArchitecture; }
}

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
 * The whole network as one DL4J layer: token embedding, the trunk of causal pre-norm blocks, the n output
 * heads, the shared final norm and the shared unembedding, with the weighted loss {@code Σ_k w_k · CE_k}.
 *
 * <p>Why one layer: a DL4J graph cannot share a parameter between layers (the unembedding is shared by every
 * head, the embedding table with the sequential heads' look-ahead), and every extra DL4J SameDiff layer runs its
 * forward pass twice per training step — DL4J computes a hidden SameDiff layer's activations for the next layer,
 * then SameDiff runs the same forward ops again to back-propagate. As one output layer, one SameDiff execution
 * computes the forward pass, the loss and every gradient (docs/performance.md, improvement 4), and activations
 * stay position rows {@code [B·T, d]} from embedding to logits.
 *
 * <p>Input {@code [B, C, T]}: token ids as numbers; channel 0 the window's tokens, channels 1..n−1 (sequential
 * heads only) the look-ahead tokens x[t+1..t+n−1]. Labels {@code [B, n, T]}: row k−1 holds x[t+k].
 * Activations (what {@code output()} returns) are the logits {@code [B, n, T, V]}. The loss variable is the
 * batch sum of the per-example loss, which DL4J divides by the batch size.
 *
 * <p>Parameter names: {@code tokW}, {@code posW} (embedding), {@code t<i>…} (trunk block i), {@code h<k>…}
 * (head k), {@code finalNorm…} and {@code unembedW}; DL4J prefixes them with the layer name ({@code mtp_}).
 *
 * <p>Dropout (training only) multiplies the input of every trunk block and of the heads by a mask that the
 * layer implementation draws per step and feeds as a placeholder ({@link #dropoutName}), so the forward and
 * backward passes of a step use the same mask.
 *
 * <p>Each head's graph is built by {@link #headHidden}, {@link #logits} and {@link #horizonLoss}, which take
 * the trunk output and nothing from other heads (except the previous depth for sequential heads). With
 * {@link HeadOrder#PER_HEAD}, training uses {@link #defineTrunkGraph} and {@link #defineHeadGraph} instead of
 * the whole-network graph: one small graph per head, run one after the other by {@link PerHeadOutputLayer} —
 * the paper's memory-efficient order.
 *
 * <p>The loss weights are a constant of the built graph; {@link #setLossWeights(double[])} updates both this
 * configuration (which DL4J serialises and Spark broadcasts) and the built graph's array, so a schedule can
 * change them during training without rebuilding the model.
 */
public class MtpNetworkLayer extends SameDiffOutputLayer {
    public static final String ACTIVATIONS = "mtp_logits";
    public static final String UNEMBEDDING = "unembedW";
    public static final String FINAL_NORM = "finalNorm";
    public static final String TOKEN_TABLE = TransformerOps.TOKEN_TABLE;
    public static final String POSITION_TABLE = TransformerOps.POSITION_TABLE;

    private BlockSpec spec;
    private int vocabSize;
    private int trunkDepth;
    private int predictedTokens;
    private HeadArchitecture headArchitecture;
    private double[] lossWeights;
    private double dropout;
    private HeadOrder headOrder = HeadOrder.ALL_AT_ONCE;
    private int stepThreads;

    /** The weight constants of every graph built from this configuration, updated by {@link #setLossWeights}. */
    @JsonIgnore
    private transient List<INDArray> builtWeights;

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
        this.headOrder = config.headOrder();
        this.stepThreads = config.stepThreads();
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

    /** Parameter-name prefix of head k (1-based); DL4J parameter names must not contain underscores. */
    public static String headPrefix(int k) {
        return "h" + k;
    }

    /** Parameter-name prefix of trunk block i (0-based). */
    public static String trunkPrefix(int i) {
        return "t" + i;
    }

    /** Token channels of the input: n for sequential heads (the look-ahead tokens), otherwise 1. */
    public int inputChannels() {
        return headArchitecture == HeadArchitecture.SEQUENTIAL ? predictedTokens : 1;
    }

    /**
     * Number of dropout points: the input of each trunk block and the heads' input; 0 without dropout. Point
     * {@code i < trunkDepth} masks the residual stream {@code [N, d]} entering block i, point {@code trunkDepth}
     * the heads' input {@code [N, C·d]} (trunk output and, for sequential heads, the look-ahead embeddings).
     */
    int dropoutPoints() {
        return dropout > 0 ? trunkDepth + 1 : 0;
    }

    /** Width of dropout point i (see {@link #dropoutPoints}). */
    int dropoutWidth(int point) {
        return point < trunkDepth ? spec.getModelWidth() : inputChannels() * spec.getModelWidth();
    }

    /** Placeholder name of dropout point i's mask. */
    static String dropoutName(int point) {
        return "dropout" + point;
    }

    /**
     * The placeholder of the embedded rows {@code [B·T, C·d]} ({@link TokenEmbedding}): the graphs start from
     * the embedding's output, and the layer implementation turns its gradient into the tables' gradients.
     */
    static final String EMBEDDED = "embedded";

    /** The embedding tables, which the graphs do not read (see {@link #EMBEDDED}). */
    static boolean isEmbeddingTable(String parameter) {
        return parameter.equals(TOKEN_TABLE) || parameter.equals(POSITION_TABLE);
    }

    /**
     * Defines the whole network on the embedded rows ({@link #EMBEDDED}); {@code input}, the token ids, is read
     * by the layer implementation, which embeds them.
     */
    @Override
    public SDVariable defineLayer(SameDiff sd, SDVariable input, SDVariable labels, Map<String, SDVariable> p) {
        DataType dt = input.dataType();
        TransformerOps ops = new TransformerOps(sd, spec, dt);
        int t = spec.getContextLength();
        SDVariable embedded = sd.placeHolder(EMBEDDED, dt, -1, (long) inputChannels() * spec.getModelWidth());
        SDVariable[] trunkOut = trunk(sd, ops, embedded, p);
        SDVariable trunk = trunkOut[0];

        SDVariable[] hidden = new SDVariable[predictedTokens];
        SDVariable previous = trunk;
        for (int k = 1; k <= predictedTokens; k++) {
            hidden[k - 1] = headHidden(ops, k, trunk, previous, lookAhead(trunkOut[1], k), p);
            previous = hidden[k - 1];
        }
        // All horizons through the shared final norm, unembedding and cross-entropy at once, as rows
        // [n·N, ·] (horizon-major): one op per step instead of one per horizon — at small widths a step's
        // cost is mostly the number of ops, and it is the same function (tests compare per horizon).
        SDVariable rows = predictedTokens == 1 ? hidden[0] : sd.concat(0, hidden);        // [n·N, d]
        SDVariable logits = logits(ops, rows, p);                                        // [n·N, V]
        sd.permute(ACTIVATIONS, sd.reshape(logits, predictedTokens, -1, t, vocabSize), 1, 0, 2, 3); // [B, n, T, V]
        SDVariable ids = sd.reshape(sd.permute(labels, 1, 0, 2), -1);                      // horizon-major, as the rows
        SDVariable logLikelihood = rowLogLikelihoods(sd, logits, ids);                     // [n·N]
        // w_k · (−1/T) · Σ over horizon k's rows: the batch sum of the per-example mean CE, weighted.
        SDVariable horizonLosses = sd.reshape(logLikelihood, predictedTokens, -1).sum(1).mul(-1.0 / t);   // [n]
        SDVariable weights = sd.constant("horizon_weights", newWeightArray(dt));
        SDVariable total = horizonLosses.mul(weights).sum();
        sd.setLossVariables(total);
        return total;
    }

    /**
     * The trunk on the embedded rows {@code [N, C·d]}: returns the trunk output {@code [N, d]} (the heads'
     * input, after its dropout) and, for sequential heads, the look-ahead embeddings {@code [N, (n−1)·d]}
     * (else null). Creates the dropout placeholders when dropout is on.
     */
    SDVariable[] trunk(SameDiff sd, TransformerOps ops, SDVariable embedded, Map<String, SDVariable> p) {
        int d = spec.getModelWidth();
        int channels = inputChannels();
        SDVariable x = channels == 1 ? embedded : embedded.get(SDIndex.all(), SDIndex.interval(0, d));
        SDVariable lookAhead = channels == 1 ? null : embedded.get(SDIndex.all(), SDIndex.interval(d, channels * d));
        for (int i = 0; i < trunkDepth; i++) {
            x = ops.block(trunkPrefix(i), dropout(sd, i, x), p);
        }
        if (dropoutPoints() > 0) {
            if (lookAhead == null) {
                x = dropout(sd, trunkDepth, x);
            } else {
                SDVariable headInput = dropout(sd, trunkDepth, ops.concatFeatures(x, lookAhead));
                x = headInput.get(SDIndex.all(), SDIndex.interval(0, d));
                lookAhead = headInput.get(SDIndex.all(), SDIndex.interval(d, channels * d));
            }
        }
        return new SDVariable[] {x, lookAhead};
    }

    private SDVariable dropout(SameDiff sd, int point, SDVariable x) {
        if (dropoutPoints() == 0) {
            return x;
        }
        // [N, w] in training; a [1, 1] one in inference, which broadcasts.
        return x.mul(sd.placeHolder(dropoutName(point), x.dataType(), -1, -1));
    }

    /** Head k's look-ahead embedding emb(x[t+k−1]) {@code [N, d]} (sequential heads, k ≥ 2), else null. */
    private SDVariable lookAhead(SDVariable lookAheads, int k) {
        if (lookAheads == null || k < 2) {
            return null;
        }
        int d = spec.getModelWidth();
        return lookAheads.get(SDIndex.all(), SDIndex.interval((k - 2) * d, (k - 1) * d));
    }

    private synchronized INDArray newWeightArray(DataType dt) {
        INDArray w = Nd4j.createFromArray(lossWeights).castTo(dt);
        if (builtWeights == null) {
            builtWeights = new ArrayList<>();
        }
        builtWeights.add(w);
        return w;
    }

    /** Names of the variables of the graphs built by {@link #defineTrunkGraph} and {@link #defineHeadGraph}. */
    static final String TRUNK_INPUT = EMBEDDED;
    /** The trunk output (heads' input) {@code [N, d]}: output of the trunk graph, placeholder of the head graphs. */
    static final String TRUNK_OUT = "trunkOut";
    /** Sequential heads: the look-ahead embeddings {@code [N, (n−1)·d]} of the trunk graph. */
    static final String LOOK_AHEAD_OUT = "lookAheadOut";
    /** Trunk graph: dL/d(trunk output) and dL/d(look-ahead embeddings), collected from the heads. */
    static final String TRUNK_UPSTREAM = "trunkUpstream";
    static final String LOOK_AHEAD_UPSTREAM = "lookAheadUpstream";
    /** Head graph of a sequential head k ≥ 2: its look-ahead embedding emb(x[t+k−1]) {@code [N, d]}. */
    static final String HEAD_LOOK_AHEAD = "lookAhead";
    static final String HEAD_LABELS = "labels";
    /** Sequential heads, k ≥ 2: the previous depth's hidden state {@code [N, d]}. */
    static final String HEAD_PREVIOUS = "previous";
    /** Sequential heads, k < n: dL/d(hidden_k) from the later depths, {@code [N, d]}. */
    static final String HEAD_UPSTREAM = "upstream";
    static final String HEAD_HIDDEN = "hidden";
    /** w_k · (batch sum of the per-example mean CE of horizon k): head k's share of the layer's loss. */
    static final String HEAD_LOSS = "weightedLoss";

    /**
     * Defines the trunk alone, for {@link HeadOrder#PER_HEAD}: placeholders {@link #TRUNK_INPUT}
     * (the embedded rows), the dropout masks, {@link #TRUNK_UPSTREAM} and (sequential)
     * {@link #LOOK_AHEAD_UPSTREAM}; outputs {@link #TRUNK_OUT} and {@link #LOOK_AHEAD_OUT}. The loss variable is
     * {@code Σ trunkOut ⊙ trunkUpstream (+ Σ lookAheadOut ⊙ lookAheadUpstream)}: its parameter gradients are the
     * trunk's share of the network's gradient once the heads have supplied dL/d(trunk output) (a vector-Jacobian
     * product), so the trunk is back-propagated once, after all heads.
     *
     * @param parameter creates (on first use) the variable of a layer parameter
     */
    void defineTrunkGraph(SameDiff sd, DataType dt, Function<String, SDVariable> parameter) {
        TransformerOps ops = new TransformerOps(sd, spec, dt);
        int d = spec.getModelWidth();
        SDVariable input = sd.placeHolder(TRUNK_INPUT, dt, -1, (long) inputChannels() * d);
        SDVariable[] out = trunk(sd, ops, input, new LazyParameters(parameter));
        SDVariable trunkOut = sd.identity(TRUNK_OUT, out[0]);
        SDVariable loss = trunkOut.mul(sd.placeHolder(TRUNK_UPSTREAM, dt, -1, d)).sum();
        if (out[1] != null) {
            SDVariable lookAheadOut = sd.identity(LOOK_AHEAD_OUT, out[1]);
            loss = loss.add(lookAheadOut.mul(sd.placeHolder(LOOK_AHEAD_UPSTREAM, dt, -1, (long) (inputChannels() - 1) * d)).sum());
        }
        sd.setLossVariables(loss);
    }

    /**
     * Defines the graph of head k alone, for {@link HeadOrder#PER_HEAD}: placeholders {@link #TRUNK_OUT} and
     * {@link #HEAD_LABELS} (plus {@link #HEAD_LOOK_AHEAD} and {@link #HEAD_PREVIOUS} for a sequential head k ≥ 2);
     * outputs {@link #HEAD_HIDDEN} and {@link #HEAD_LOSS}. The loss variable is {@code HEAD_LOSS}, plus
     * {@code Σ hidden ⊙ upstream} for a sequential head with later depths: its gradient then carries the later
     * depths' gradient through this depth (a vector-Jacobian product), so depths can be back-propagated one at
     * a time from the last.
     *
     * @param parameter creates (on first use) the variable of a layer parameter; only parameters head k uses are created
     */
    void defineHeadGraph(SameDiff sd, int k, long[] labelShape, DataType dt, Function<String, SDVariable> parameter) {
        TransformerOps ops = new TransformerOps(sd, spec, dt);
        int d = spec.getModelWidth();
        boolean sequential = headArchitecture == HeadArchitecture.SEQUENTIAL;
        SDVariable trunk = sd.placeHolder(TRUNK_OUT, dt, -1, d);
        SDVariable labels = sd.placeHolder(HEAD_LABELS, dt, labelShape);
        Map<String, SDVariable> p = new LazyParameters(parameter);

        SDVariable previous = sequential && k >= 2 ? sd.placeHolder(HEAD_PREVIOUS, dt, -1, d) : trunk;
        SDVariable lookAhead = sequential && k >= 2 ? sd.placeHolder(HEAD_LOOK_AHEAD, dt, -1, d) : null;
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
        SDVariable logLikelihood = rowLogLikelihoods(sd, logits, sd.reshape(labelsK, -1)).sum();
        return logLikelihood.mul("loss_h" + k, -1.0 / spec.getContextLength());
    }

    /** Log-likelihood of each row's label: {@code logits [R, V]}, {@code ids [R]} (as numbers) → {@code [R]}. */
    private SDVariable rowLogLikelihoods(SameDiff sd, SDVariable logits, SDVariable ids) {
        // Not sd.loss.sparseSoftmaxCrossEntropy: its gradient (M2.1) ignores the incoming gradient, which
        // would silently drop the horizon weight and the 1/T factor. logSoftmax without a dimension (last axis):
        // the variant with one fails to clone when the gradient graph is built.
        SDVariable oneHot = sd.oneHot(ids.castTo(DataType.INT), vocabSize, -1, 1.0, 0.0, logits.dataType());
        return sd.nn.logSoftmax(logits).mul(oneHot).sum(1);
    }

    @Override
    public String activationsVertexName() {
        return ACTIVATIONS;
    }

    @Override
    public void defineParameters(SDLayerParams params) {
        int d = spec.getModelWidth();
        TransformerOps.defineEmbeddingParams(params, vocabSize, spec);
        for (int i = 0; i < trunkDepth; i++) {
            TransformerOps.defineBlockParams(params, trunkPrefix(i), spec);
        }
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
    public int getTrunkDepth() { return trunkDepth; }
    public void setTrunkDepth(int trunkDepth) { this.trunkDepth = trunkDepth; }
    public double getDropout() { return dropout; }
    public void setDropout(double dropout) { this.dropout = dropout; }
    public void setPredictedTokens(int predictedTokens) { this.predictedTokens = predictedTokens; }
    public HeadArchitecture getHeadArchitecture() { return headArchitecture; }
    public HeadOrder getHeadOrder() { return headOrder; }
    public int getStepThreads() { return stepThreads; }
    /** Takes effect at the next training step; the layer reads it per step. */
    public void setStepThreads(int stepThreads) { this.stepThreads = stepThreads; }
    public void setHeadOrder(HeadOrder headOrder) { this.headOrder = headOrder == null ? HeadOrder.ALL_AT_ONCE : headOrder; }
    public void setHeadArchitecture(HeadArchitecture headArchitecture) { this.headArchitecture = headArchitecture; }
}

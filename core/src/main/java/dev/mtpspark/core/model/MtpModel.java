package dev.mtpspark.core.model;

import dev.mtpspark.core.config.MtpModelConfig;
import dev.mtpspark.core.stats.HorizonStats;
import dev.mtpspark.core.train.OptimizerSettings;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.util.ModelSerializer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.api.MultiDataSet;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.ops.transforms.Transforms;

import java.io.File;
import java.io.IOException;
import java.util.function.Consumer;

/**
 * A multi-token prediction transformer as a DL4J {@link ComputationGraph} of one layer, {@link MtpNetworkLayer}
 * (computed by {@link MtpNetwork}): token embedding → trunk of causal pre-norm blocks → n heads, shared final norm
 * and unembedding, weighted loss.
 *
 * <p>The graph trains with any DL4J trainer ({@code fit(MultiDataSet)}, Spark's
 * {@code SparkComputationGraph}); this class adds the MTP-specific API: per-horizon logits and
 * probabilities, per-horizon statistics, parameter counts per part, loss-weight changes, a KV-cached
 * {@link Decoder}, and save/restore with the model configuration inside the DL4J model file.
 */
public final class MtpModel {
    public static final String INPUT = "tokens";
    // Neither layer nor parameter names may contain '_': DL4J joins them as "layer_param" and splits at the last one.
    public static final String NETWORK = "mtp";
    private static final String CONFIG_ENTRY = "mtp-model-config";

    private final MtpModelConfig config;
    private final ComputationGraph graph;

    private MtpModel(MtpModelConfig config, ComputationGraph graph) {
        this.config = config;
        this.graph = graph;
    }

    /** A new, initialised model in single precision with Adam(1e-3). */
    public static MtpModel create(MtpModelConfig config) {
        return create(config, new Adam(1e-3), DataType.FLOAT);
    }

    /** A new, initialised model with the given updater and floating-point type. */
    public static MtpModel create(MtpModelConfig config, IUpdater updater, DataType dataType) {
        ComputationGraph graph = new ComputationGraph(graphConfiguration(config, updater, dataType));
        graph.init();
        return new MtpModel(config, graph);
    }

    /** Wraps an existing graph that was built from {@code config} (for example one trained on Spark). */
    public static MtpModel wrap(MtpModelConfig config, ComputationGraph graph) {
        return new MtpModel(config, graph);
    }

    /** A new, initialised model trained with AdamW, a learning-rate schedule, weight decay and clipping. */
    public static MtpModel create(MtpModelConfig config, OptimizerSettings optimizer, DataType dataType) {
        ComputationGraph graph = new ComputationGraph(graphConfiguration(config, optimizer, dataType));
        graph.init();
        return new MtpModel(config, graph);
    }

    /** The DL4J graph configuration of a model; every custom layer serialises to JSON with it. */
    public static ComputationGraphConfiguration graphConfiguration(MtpModelConfig config, IUpdater updater, DataType dataType) {
        return graphConfiguration(config, dataType, b -> b.updater(updater));
    }

    /** The graph configuration with the optimizer's updater, schedule, weight decay and clipping. */
    public static ComputationGraphConfiguration graphConfiguration(MtpModelConfig config, OptimizerSettings optimizer, DataType dataType) {
        return graphConfiguration(config, dataType, optimizer::applyTo);
    }

    private static ComputationGraphConfiguration graphConfiguration(MtpModelConfig config, DataType dataType,
                                                                    Consumer<NeuralNetConfiguration.Builder> training) {
        BlockSpec spec = BlockSpec.of(config,
                ParameterLayout.residualBlocks(config.headArchitecture(), config.trunkDepth(), config.predictedTokens()));
        NeuralNetConfiguration.Builder global = new NeuralNetConfiguration.Builder()
                .seed(config.seed())
                .dataType(dataType);
        training.accept(global);
        // One layer: see MtpNetworkLayer for why.
        return global.graphBuilder()
                .addInputs(INPUT)
                .setInputTypes(InputType.recurrent(config.inputChannels(), config.contextLength()))
                .addLayer(NETWORK, new MtpNetworkLayer(spec, config), INPUT)
                .setOutputs(NETWORK)
                .build();
    }

    public MtpModelConfig config() {
        return config;
    }

    public ComputationGraph graph() {
        return graph;
    }

    /** The head layer's configuration object, shared with the running graph. */
    public MtpNetworkLayer headLayer() {
        return (MtpNetworkLayer) graph.getLayer(NETWORK).conf().getLayer();
    }

    /** Current per-horizon loss weights. */
    public double[] lossWeights() {
        return headLayer().getLossWeights();
    }

    /** Changes the per-horizon loss weights for the following steps, without rebuilding the model. */
    public void setLossWeights(double[] weights) {
        headLayer().setLossWeights(weights);
    }

    /** Per-horizon logits {@code [B, n, T, V]} for features {@code [B, C, T]} (inference mode). */
    public INDArray logits(INDArray features) {
        return graph.outputSingle(false, features);
    }

    /** Per-horizon next-token distributions {@code [B, n, T, V]} (softmax of {@link #logits}). */
    public INDArray probabilities(INDArray features) {
        INDArray logits = logits(features);
        INDArray max = logits.max(true, 3);
        INDArray exp = Transforms.exp(logits.sub(max), false);
        return exp.divi(exp.sum(true, 3));
    }

    /** Per-horizon statistics (loss, top-1, top-5, tokens) of one labelled batch. */
    public HorizonStats evaluate(MultiDataSet batch) {
        return HorizonStats.fromLogits(logits(batch.getFeatures(0)), batch.getLabels(0));
    }

    /** The training loss of a batch: Σ_k w_k · CE_k, averaged over the batch (DL4J's score). */
    public double score(MultiDataSet batch) {
        return graph.score(batch, false);
    }

    /** One training step on a batch. */
    public void fit(MultiDataSet batch) {
        graph.fit(batch);
    }

    /** Trainable parameters per part: embedding tables, trunk, heads, final norm with unembedding. */
    public ParameterCounts parameterCounts() {
        return new ParameterLayout(headLayer().shape()).count(graph.getLayer(NETWORK).paramTable());
    }

    /**
     * A KV-cached decoder over this model's current parameters: head 1, and heads 2..{@code heads} as drafters
     * (1 for plain generation). Parameters are read in place on the CPU backend, so a decoder sees later training.
     */
    public Decoder decoder(int heads) {
        return new Decoder(headLayer().shape(), graph.params().dataType(), weights(), heads);
    }

    /**
     * Typed views of the parameters, sharing DL4J's arrays on the CPU backend (a write changes the model): what
     * export and import read and write instead of parameter names.
     */
    public Weights.Model weights() {
        return ((MtpOutputLayer) graph.getLayer(NETWORK)).weights();
    }

    /**
     * This model with another {@code stepThreads} (threads per training step): the same graph, whose layer reads
     * the setting at every step, so nothing is rebuilt; this instance sees the change too.
     */
    public MtpModel withStepThreads(int stepThreads) {
        MtpModelConfig changed = config.toBuilder().stepThreads(stepThreads).build();   // validates
        headLayer().setStepThreads(stepThreads);
        return new MtpModel(changed, graph);
    }

    /** Writes configuration, parameters and updater state in DL4J's model format. */
    public void save(File file) throws IOException {
        ModelSerializer.writeModel(graph, file, true);
        ModelSerializer.addObjectToFile(file, CONFIG_ENTRY, config);
    }

    /** Restores a model written by {@link #save}, including the updater state. */
    public static MtpModel load(File file) throws IOException {
        ComputationGraph graph = ModelSerializer.restoreComputationGraph(file, true);
        MtpModelConfig config = ModelSerializer.getObjectFromFile(file, CONFIG_ENTRY);
        return new MtpModel(config, graph);
    }
}

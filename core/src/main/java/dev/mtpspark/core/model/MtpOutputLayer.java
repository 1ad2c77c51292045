package dev.mtpspark.core.model;

import dev.mtpspark.core.kernels.DenseMatrix;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.gradient.DefaultGradient;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.layers.samediff.SameDiffOutputLayer;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.random.impl.BernoulliDistribution;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The DL4J layer that {@code ComputationGraph.fit} (and Spark's {@code SparkComputationGraph}) trains: it hands
 * every forward, backward and score to {@link MtpNetwork}. It keeps DL4J's SameDiff output layer only for the
 * parameter and gradient tables that class manages; no graph is built, because every method that would build one
 * is overridden here.
 *
 * <p>A training step draws the dropout masks, splits the batch into shards over the step's threads
 * ({@link BatchShards}), and remembers its loss for the score DL4J asks for right after back-propagating.
 */
final class MtpOutputLayer extends SameDiffOutputLayer {
    private MtpNetwork network;
    private BatchShards<MtpNetwork> shards;
    private double lastLoss = Double.NaN;
    private INDArray lastLossInput;
    private INDArray lastLossLabels;

    MtpOutputLayer(NeuralNetConfiguration conf, DataType dataType) {
        super(conf, dataType);
    }

    private MtpNetworkLayer network() {
        return (MtpNetworkLayer) layerConf();
    }

    private MtpNetwork ownNetwork() {
        if (network == null) {
            network = new MtpNetwork(network().shape(), dataType);
        }
        return network;
    }

    private ParameterLayout layout() {
        return new ParameterLayout(network().shape());
    }

    /** The per-horizon logits {@code [B, n, T, V]} (inference: no dropout). */
    @Override
    public INDArray activate(boolean training, LayerWorkspaceMgr workspaceMgr) {
        assertInputSet(false);
        NetworkShape shape = network().shape();
        TokenBatch batch = TokenBatch.of(input, null, shape.vocab());
        int n = shape.horizons();
        int t = shape.context();
        int v = shape.vocab();
        INDArray out;
        try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
            out = Nd4j.createUninitializedDetached(dataType, batch.windows(), n, t, v);
        }
        ownNetwork().logits(layout().bind(paramTable, null), batch, DenseMatrix.viewOf(out));
        if (workspaceMgr.isScopedOut(ArrayType.ACTIVATIONS)) {
            return out;
        }
        return workspaceMgr.dup(ArrayType.ACTIVATIONS, out);
    }

    @Override
    public double computeScore(double fullNetRegTerm, boolean training, LayerWorkspaceMgr workspaceMgr) {
        assertInputSet(false);
        double loss;
        if (input == lastLossInput && labels == lastLossLabels && !Double.isNaN(lastLoss)) {
            loss = lastLoss;
        } else {
            // A training-mode score draws dropout masks, as a training step would.
            NetworkShape shape = network().shape();
            TokenBatch batch = TokenBatch.of(input, labels, shape.vocab());
            DenseMatrix[] masks = training ? shardMasks(dropoutMasks(batch.rows(), shape), 0, batch.rows()) : null;
            loss = ownNetwork().run(layout().bind(paramTable, null), null, batch, masks, network().getLossWeights(), null);
        }
        forgetLastLoss();
        return (loss + fullNetRegTerm) / input.size(0);
    }

    @Override
    public Pair<Gradient, INDArray> backpropGradient(INDArray epsilon, LayerWorkspaceMgr workspaceMgr) {
        // ComputationGraph back-propagates the output layer before it computes the score.
        assertInputSet(true);
        if (labels == null) {
            throw new IllegalStateException("Cannot back-propagate the MTP network: labels are not set");
        }
        MtpNetworkLayer conf = network();
        NetworkShape shape = conf.shape();
        TokenBatch batch = TokenBatch.of(input, labels, shape.vocab());
        INDArray[] masks = dropoutMasks(batch.rows(), shape);
        boolean cpu = Nd4j.getEnvironment().isCPU();
        int count = conf.shardsFor(batch.windows(), cpu);
        int threadsPerShard = Math.max(1, conf.threadBudget(cpu) / count);
        if (shards == null || shards.shards() != count) {
            shards = count == 1 ? null : new BatchShards<>(count, () -> new MtpNetwork(shape, dataType), gradients,
                    flat -> layerConf().initializer().getGradientsFromFlattened(conf(), flat));
        }
        double[] weights = conf.getLossWeights();
        Weights.Model parameters = layout().bind(paramTable, null);
        BatchShards.ShardWork<MtpNetwork> work = (net, j, target) -> {
            int from = count == 1 ? 0 : (int) shards.start(j, batch.windows());
            int to = count == 1 ? batch.windows() : (int) shards.start(j + 1, batch.windows());
            List<Runnable> copyBacks = new ArrayList<>();
            Weights.Model grads = layout().bind(target, copyBacks);
            double loss = net.run(parameters, grads, count == 1 ? batch : batch.slice(from, to),
                    shardMasks(masks, from * shape.context(), to * shape.context()), weights, null);
            copyBacks.forEach(Runnable::run);
            return loss;
        };
        double loss = count == 1 ? BatchShards.withOpThreads(threadsPerShard, () -> work.run(ownNetwork(), 0, gradTable))
                : shards.run(work, ownNetwork(), gradTable, gradients, threadsPerShard);
        lastLoss = loss;
        lastLossInput = input;
        lastLossLabels = labels;
        Gradient gradient = new DefaultGradient();
        gradTable.forEach((name, array) -> gradient.gradientForVariable().put(name, array));
        // The input is token ids, which have no gradient; DL4J still expects an array.
        return new Pair<>(gradient, workspaceMgr.create(ArrayType.ACTIVATION_GRAD, dataType, input.shape()));
    }

    /**
     * Inverted-dropout masks {@code [rows, d]} for every dropout point of the whole batch (0 with the dropout
     * probability, else 1/(1−p)), drawn once per step so that a sharded step computes what one shard would.
     */
    private INDArray[] dropoutMasks(int rows, NetworkShape shape) {
        INDArray[] masks = new INDArray[shape.dropoutPoints()];
        double retain = 1.0 - shape.dropout();
        try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
            for (int i = 0; i < masks.length; i++) {
                masks[i] = Nd4j.createUninitializedDetached(dataType, rows, shape.width());
                Nd4j.getExecutioner().exec(new BernoulliDistribution(masks[i], retain));
                masks[i].divi(retain);
            }
        }
        return masks;
    }

    /** Rows {@code [from, to)} of every mask, as matrices of their own. */
    private DenseMatrix[] shardMasks(INDArray[] masks, long from, long to) {
        DenseMatrix[] shard = new DenseMatrix[masks.length];
        for (int i = 0; i < masks.length; i++) {
            INDArray rows = masks[i].get(NDArrayIndex.interval(from, to), NDArrayIndex.all());
            shard[i] = DenseMatrix.allocate(dataType, rows.length());
            shard[i].copyFrom(rows);
        }
        return shard;
    }

    private void forgetLastLoss() {
        lastLoss = Double.NaN;
        lastLossInput = null;
        lastLossLabels = null;
    }

    /** Typed views of this layer's parameters (for decoding and tests). */
    Weights.Model weights() {
        return layout().bind(paramTable, null);
    }

    Map<String, INDArray> parameters() {
        return paramTable;
    }
}

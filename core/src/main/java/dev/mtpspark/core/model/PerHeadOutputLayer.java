package dev.mtpspark.core.model;

import dev.mtpspark.core.config.HeadArchitecture;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.api.OutAndGrad;
import org.nd4j.autodiff.samediff.internal.InferenceSession;
import org.nd4j.autodiff.samediff.internal.memory.AbstractMemoryMgr;
import org.nd4j.linalg.api.shape.LongShapeDescriptor;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * The network layer's implementation for {@link dev.mtpspark.core.config.HeadOrder#PER_HEAD}: the paper's
 * memory-efficient order. The embedding and trunk run forward once ({@link MtpNetworkLayer#defineTrunkGraph});
 * then each head's own small graph ({@link MtpNetworkLayer#defineHeadGraph}) runs forward and backward in turn,
 * adding its parameter gradients and dL/d(trunk output), and lets its logits go before the next head starts;
 * last, the trunk runs backward once with the accumulated dL/d(trunk output). The trunk's forward ops run twice
 * per step (once for the heads' input, once inside the trunk's backward pass): SameDiff cannot back-propagate
 * from a forward pass it did not run itself.
 *
 * <p>The graphs run outside DL4J's workspaces, with a SameDiff memory manager that frees every array a graph
 * allocated once that graph is done ({@link HeadScopedMemoryMgr}): inside DL4J's workspaces nothing would be freed
 * before the whole step ends, and SameDiff's default cache keeps released arrays (up to a quarter of the off-heap
 * limit) — either would bring back the n·[B, T, V] peak this order avoids. Inference ({@code activate}, the
 * {@code [B, n, T, V]} logits) keeps the whole-network graph, because its output holds every head's logits anyway.
 *
 * <p>With {@code model.step-threads} set (> 0), the batch is split into shards ({@link BatchShards}) and each shard
 * runs this order on its own windows, with its own trunk and head graphs and memory manager, on its own thread:
 * faster, but the peak memory grows with n again. With 0 (automatic) the order runs one shard.
 *
 * <p>Where {@link DirectTrainingStep} covers the configuration (parallel heads on the CPU backend), training runs
 * it instead, as for the all-at-once order: it already processes the heads one at a time.
 *
 * <p>Sequential heads chain through their hidden states: the hidden states are computed forward first (without
 * logits), then the depths are back-propagated from the last, each receiving dL/d(hidden) from the later
 * ones. That costs one extra forward pass of each sequential block.
 */
final class PerHeadOutputLayer extends LayerImplementations.OutputLayer {
    /** The per-head order's graphs for one batch shard, and the memory manager they allocate through. */
    private static final class Graphs {
        final SameDiff trunk;
        final SameDiff[] heads;
        final HeadScopedMemoryMgr memory = new HeadScopedMemoryMgr();

        Graphs(SameDiff trunk, SameDiff[] heads) {
            this.trunk = trunk;
            this.heads = heads;
        }
    }

    /** The layer's own graphs: the whole batch, or shard 0. */
    private Graphs own;
    private BatchShards<Graphs> shards;

    PerHeadOutputLayer(NeuralNetConfiguration conf, DataType dataType) {
        super(conf, dataType);
    }

    @Override
    public Pair<Gradient, INDArray> backpropGradient(INDArray epsilon, LayerWorkspaceMgr workspaceMgr) {
        if (usesDirectStep()) {
            return super.backpropGradient(epsilon, workspaceMgr);     // already one head at a time
        }
        prepareBackprop();
        double loss;
        try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
            if (own == null) {
                own = buildGraphs();
            }
            long batch = input.size(0);
            Map<String, INDArray> masks = dropoutMasks(true, batch);
            TokenEmbedding embedding = embedding();
            INDArray rows = embedding.rows(tokenTable(), positionTable());
            boolean cpu = Nd4j.getEnvironment().isCPU();
            // Shards only when asked for: each shard keeps its own trunk and head graphs, and the peak memory then
            // grows with n (V = 32,000, n = 8: 1.54× n = 1 with two shards against 1.04× with one), which is what
            // this order exists to avoid. Automatic threads (0) give one shard with every thread to ND4J.
            int count = network().getStepThreads() > 0 ? network().shardsFor(batch, cpu) : 1;
            int threadsPerShard = Math.max(1, network().threadBudget(cpu) / count);
            if (count == 1) {
                loss = BatchShards.withOpThreads(threadsPerShard,
                        () -> shardStep(own, masks, rows, labels, gradTable, g -> writeEmbeddingGradients(embedding, g)));
            } else {
                shards = reuseOrBuild(shards, count, this::buildGraphs);
                BatchShards<Graphs> sharded = shards;
                INDArray rowGradient = detachedLike(rows);
                loss = sharded.run((graphs, j, target) -> {
                    Shard shard = shard(masks, rows, sharded.start(j, batch), sharded.start(j + 1, batch));
                    Map<String, INDArray> shardMasks = new HashMap<>();
                    shard.masks().forEach((name, mask) -> shardMasks.put(name, mask.isView() ? mask.dup() : mask));
                    return shardStep(graphs, shardMasks, shard.rows().dup(), shard.labels().dup(), target,
                            g -> rowGradient.get(shard.rowRange(), NDArrayIndex.all()).assign(g));
                }, own, gradTable, gradients, null, threadsPerShard);
                writeEmbeddingGradients(embedding, rowGradient);
            }
        }
        return finishBackprop(loss, workspaceMgr);
    }

    /**
     * The per-head order on one (shard of a) batch: trunk forward, each head forward and backward, trunk backward.
     * Writes every parameter's gradient into {@code target} (the embedding tables' as zeros) and hands the embedded
     * rows' gradient to {@code rowGradient} while it is valid; returns the summed weighted loss.
     */
    private double shardStep(Graphs g, Map<String, INDArray> masks, INDArray rows, INDArray labels, Map<String, INDArray> target,
                             Consumer<INDArray> rowGradient) {
        for (INDArray a : target.values()) {
            a.assign(0);
        }
        INDArray[] trunkOut = trunkForward(g, masks, rows);
        INDArray trunkGradient = Nd4j.zeros(dataType, trunkOut[0].shape());
        INDArray lookAheadGradient = trunkOut[1] == null ? null : Nd4j.zeros(dataType, trunkOut[1].shape());
        double loss = sequential() ? backpropSequential(g, labels, target, trunkOut, trunkGradient, lookAheadGradient)
                : backpropIndependent(g, labels, target, trunkOut[0], trunkGradient);
        trunkBackward(g, masks, rows, target, trunkGradient, lookAheadGradient, rowGradient);
        return loss;
    }

    /** Embedding and trunk forward: the trunk output and (sequential heads) the look-ahead embeddings, detached. */
    private INDArray[] trunkForward(Graphs g, Map<String, INDArray> masks, INDArray rows) {
        Map<String, INDArray> ph = new HashMap<>(masks);
        ph.put(MtpNetworkLayer.TRUNK_INPUT, rows);
        List<String> outputs = sequential() ? List.of(MtpNetworkLayer.TRUNK_OUT, MtpNetworkLayer.LOOK_AHEAD_OUT) : List.of(MtpNetworkLayer.TRUNK_OUT);
        allocateThroughMemory(g, g.trunk.getSessions(), g.trunk);
        Map<String, INDArray> out = g.trunk.output(ph, outputs);
        INDArray[] result = new INDArray[2];
        result[0] = out.get(MtpNetworkLayer.TRUNK_OUT).dup();
        if (sequential()) {
            result[1] = out.get(MtpNetworkLayer.LOOK_AHEAD_OUT).dup();
        }
        g.trunk.clearPlaceholders(true);
        g.trunk.clearOpInputs();
        g.memory.freeAll();
        return result;
    }

    /**
     * Trunk backward with the heads' dL/d(trunk output) (and dL/d(look-ahead embeddings)); adds the trunk's parameter
     * gradients to {@code target} and hands the embedded rows' gradient to {@code rowGradient}.
     */
    private void trunkBackward(Graphs g, Map<String, INDArray> masks, INDArray rows, Map<String, INDArray> target,
                               INDArray trunkGradient, INDArray lookAheadGradient, Consumer<INDArray> rowGradient) {
        Map<String, INDArray> ph = new HashMap<>(masks);
        ph.put(MtpNetworkLayer.TRUNK_INPUT, rows);
        ph.put(MtpNetworkLayer.TRUNK_UPSTREAM, trunkGradient);
        if (lookAheadGradient != null) {
            ph.put(MtpNetworkLayer.LOOK_AHEAD_UPSTREAM, lookAheadGradient);
        }
        List<String> parameters = parametersOf(g.trunk);
        List<String> wanted = new ArrayList<>(parameters);
        wanted.add(MtpNetworkLayer.TRUNK_INPUT);
        allocateThroughMemory(g, g.trunk.getFunction("grad").getSessions(), g.trunk.getFunction("grad"));
        Map<String, INDArray> grads = g.trunk.calculateGradients(ph, wanted);
        for (String name : parameters) {
            target.get(name).addi(grads.get(name));
        }
        rowGradient.accept(grads.get(MtpNetworkLayer.TRUNK_INPUT));
        g.trunk.clearPlaceholders(true);
        g.trunk.clearOpInputs();
        g.memory.freeAll();
    }

    /** Parallel and linear heads: each head forward + backward on its own; returns the summed weighted loss. */
    private double backpropIndependent(Graphs g, INDArray labels, Map<String, INDArray> target, INDArray trunkOut, INDArray trunkGradient) {
        double loss = 0;
        for (SameDiff graph : g.heads) {
            loss += step(g, graph, placeholders(labels, trunkOut, null, null, null), target, trunkGradient, null, null);
        }
        return loss;
    }

    /**
     * Sequential heads: hidden states forward (no logits), then depths n..1 backward, each adding the gradient
     * of the later depths through {@link MtpNetworkLayer#HEAD_UPSTREAM}.
     */
    private double backpropSequential(Graphs g, INDArray labels, Map<String, INDArray> target, INDArray[] trunkOut,
                                      INDArray trunkGradient, INDArray lookAheadGradient) {
        SameDiff[] heads = g.heads;
        int n = heads.length;
        INDArray[] hidden = new INDArray[n];
        for (int k = 1; k < n; k++) {
            Map<String, INDArray> ph = placeholders(labels, trunkOut[0], lookAhead(trunkOut[1], k), k >= 2 ? hidden[k - 2] : null, null);
            allocateThroughMemory(g, heads[k - 1].getSessions(), heads[k - 1]);
            hidden[k - 1] = heads[k - 1].outputSingle(ph, MtpNetworkLayer.HEAD_HIDDEN).dup();
            heads[k - 1].clearPlaceholders(true);
            heads[k - 1].clearOpInputs();
            g.memory.freeAll();
        }
        double loss = 0;
        INDArray upstream = null;
        for (int k = n; k >= 1; k--) {
            INDArray[] previousGradient = new INDArray[1];
            loss += step(g, heads[k - 1], placeholders(labels, trunkOut[0], lookAhead(trunkOut[1], k), k >= 2 ? hidden[k - 2] : null, upstream),
                    target, trunkGradient, k >= 2 ? lookAhead(lookAheadGradient, k) : null, k >= 2 ? previousGradient : null);
            upstream = previousGradient[0];
        }
        return loss;
    }

    /** Head k's columns of the look-ahead embeddings (or of their gradient), k ≥ 2; null otherwise. */
    private INDArray lookAhead(INDArray lookAheads, int k) {
        if (lookAheads == null || k < 2) {
            return null;
        }
        int d = network().getSpec().getModelWidth();
        return lookAheads.get(NDArrayIndex.all(), NDArrayIndex.interval((long) (k - 2) * d, (long) (k - 1) * d));
    }

    /**
     * One head's forward and backward: adds its parameter gradients to {@code target}, its trunk-output gradient to
     * {@code trunkGradient} and its look-ahead gradient to {@code lookAheadGradient} (when given); stores
     * dL/d(previous depth) in {@code previousGradient[0]} when asked.
     */
    private double step(Graphs g, SameDiff graph, Map<String, INDArray> placeholders, Map<String, INDArray> target,
                        INDArray trunkGradient, INDArray lookAheadGradient, INDArray[] previousGradient) {
        List<String> parameters = parametersOf(graph);
        List<String> wanted = new ArrayList<>(parameters);
        wanted.add(MtpNetworkLayer.TRUNK_OUT);
        if (lookAheadGradient != null) {
            wanted.add(MtpNetworkLayer.HEAD_LOOK_AHEAD);
        }
        if (previousGradient != null) {
            wanted.add(MtpNetworkLayer.HEAD_PREVIOUS);
        }
        allocateThroughMemory(g, graph.getFunction("grad").getSessions(), graph.getFunction("grad"));
        OutAndGrad result = graph.calculateGradientsAndOutputs(placeholders, List.of(MtpNetworkLayer.HEAD_LOSS), wanted);
        Map<String, INDArray> grads = result.getGradients();
        for (String name : parameters) {
            target.get(name).addi(grads.get(name));
        }
        INDArray fromTrunk = grads.get(MtpNetworkLayer.TRUNK_OUT);
        if (fromTrunk != null) {                              // null for sequential depths k ≥ 2, which read h_{k−1}
            trunkGradient.addi(fromTrunk);
        }
        if (lookAheadGradient != null) {
            lookAheadGradient.addi(grads.get(MtpNetworkLayer.HEAD_LOOK_AHEAD));
        }
        if (previousGradient != null) {
            previousGradient[0] = grads.get(MtpNetworkLayer.HEAD_PREVIOUS).dup();
        }
        double loss = result.getOutputs().get(MtpNetworkLayer.HEAD_LOSS).getDouble(0);
        graph.clearPlaceholders(true);
        graph.clearOpInputs();
        g.memory.freeAll();                                   // this head's logits and everything else it allocated
        return loss;
    }

    /** Scores a batch that was not just back-propagated (evaluation), one head at a time. */
    @Override
    protected double scoreWithoutBackprop(double fullNetRegTerm, boolean training, LayerWorkspaceMgr workspaceMgr) {
        assertInputSet(false);
        double loss;
        try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
            if (own == null) {
                own = buildGraphs();
            }
            loss = forwardLoss(own, trunkForward(own, dropoutMasks(training, input.size(0)), embedding().rows(tokenTable(), positionTable())));
        }
        return (loss + fullNetRegTerm) / input.size(0);
    }

    /** The summed weighted loss, one head at a time, without gradients. */
    private double forwardLoss(Graphs g, INDArray[] trunkOut) {
        double loss = 0;
        INDArray previous = null;
        for (int k = 1; k <= g.heads.length; k++) {
            SameDiff graph = g.heads[k - 1];
            Map<String, INDArray> ph = placeholders(labels, trunkOut[0], lookAhead(trunkOut[1], k), sequential() && k >= 2 ? previous : null, null);
            List<String> outputs = sequential() ? List.of(MtpNetworkLayer.HEAD_LOSS, MtpNetworkLayer.HEAD_HIDDEN) : List.of(MtpNetworkLayer.HEAD_LOSS);
            allocateThroughMemory(g, graph.getSessions(), graph);
            Map<String, INDArray> out = graph.output(ph, outputs);
            loss += out.get(MtpNetworkLayer.HEAD_LOSS).getDouble(0);
            if (sequential()) {
                previous = out.get(MtpNetworkLayer.HEAD_HIDDEN).dup();
            }
            graph.clearPlaceholders(true);
            graph.clearOpInputs();
            g.memory.freeAll();
        }
        return loss;
    }

    /** Makes this thread's session of {@code graph} allocate through the memory manager of the graphs {@code g}. */
    private static void allocateThroughMemory(Graphs g, Map<Long, InferenceSession> sessions, SameDiff graph) {
        sessions.computeIfAbsent(Thread.currentThread().getId(), id -> SameDiff.getInferenceFactory().create(graph))
                .setMmgr(g.memory);
    }

    /**
     * Allocates plain (detached) arrays and frees them at the latest when {@link #freeAll} is called after a head:
     * SameDiff (M2.1) never releases the arrays of a gradient computation (it turns its release path off for the
     * gradient function), so without this they would live until the garbage collector finalised them — many
     * steps later, with the memory of every head in between. Arrays the session does release are freed at once.
     */
    static final class HeadScopedMemoryMgr extends AbstractMemoryMgr {
        private final Map<Long, INDArray> live = new HashMap<>();

        @Override
        public INDArray allocate(boolean detached, DataType dataType, long... shape) {
            return track(Nd4j.createUninitializedDetached(dataType, shape));
        }

        @Override
        public INDArray allocate(boolean detached, LongShapeDescriptor descriptor) {
            return descriptor.isEmpty() ? Nd4j.create(descriptor)
                    : track(Nd4j.createUninitializedDetached(descriptor.dataType(), descriptor.getShape()));
        }

        private INDArray track(INDArray array) {
            live.put(array.getId(), array);
            return array;
        }

        @Override
        public void release(INDArray array) {
            if (live.remove(array.getId()) != null && array.closeable()) {
                array.close();
            }
        }

        /** Frees every array still allocated; the caller has copied out whatever it needs. */
        void freeAll() {
            for (INDArray array : live.values()) {
                if (!array.wasClosed() && array.closeable()) {
                    array.close();
                }
            }
            live.clear();
        }

        @Override
        public void close() {
            freeAll();
        }
    }

    private boolean sequential() {
        return network().getHeadArchitecture() == HeadArchitecture.SEQUENTIAL;
    }

    private static Map<String, INDArray> placeholders(INDArray labels, INDArray trunkOut, INDArray lookAhead, INDArray previous,
                                                      INDArray upstream) {
        Map<String, INDArray> ph = new HashMap<>();
        ph.put(MtpNetworkLayer.TRUNK_OUT, trunkOut);
        ph.put(MtpNetworkLayer.HEAD_LABELS, labels);
        if (lookAhead != null) {
            ph.put(MtpNetworkLayer.HEAD_LOOK_AHEAD, lookAhead.dup());
        }
        if (previous != null) {
            ph.put(MtpNetworkLayer.HEAD_PREVIOUS, previous);
        }
        if (upstream != null) {
            ph.put(MtpNetworkLayer.HEAD_UPSTREAM, upstream);
        }
        return ph;
    }

    /** The layer parameters a graph uses: its variables, which are exactly the parameters it read. */
    private List<String> parametersOf(SameDiff graph) {
        List<String> names = new ArrayList<>();
        for (SDVariable v : graph.variables()) {
            if (paramTable.containsKey(v.name())) {
                names.add(v.name());
            }
        }
        return names;
    }

    /** Builds a trunk graph and the n head graphs; parameters are the layer's own arrays (views of the flat vector). */
    private Graphs buildGraphs() {
        MtpNetworkLayer conf = network();
        int n = conf.getPredictedTokens();
        long[] labelShape = labels == null ? new long[] {-1, n, conf.getSpec().getContextLength()} : labels.shape().clone();
        labelShape[0] = -1;
        SameDiff trunkGraph = LayerImplementations.newGraph();
        conf.defineTrunkGraph(trunkGraph, dataType, parameters(trunkGraph));
        trunkGraph.createGradFunction(MtpNetworkLayer.TRUNK_INPUT);
        SameDiff[] built = new SameDiff[n];
        for (int k = 1; k <= n; k++) {
            SameDiff sd = LayerImplementations.newGraph();
            conf.defineHeadGraph(sd, k, labelShape, dataType, parameters(sd));
            List<String> needGradients = new ArrayList<>(List.of(MtpNetworkLayer.TRUNK_OUT));
            for (String placeholder : List.of(MtpNetworkLayer.HEAD_PREVIOUS, MtpNetworkLayer.HEAD_LOOK_AHEAD)) {
                if (sd.hasVariable(placeholder)) {
                    needGradients.add(placeholder);
                }
            }
            sd.createGradFunction(needGradients.toArray(new String[0]));
            built[k - 1] = sd;
        }
        return new Graphs(trunkGraph, built);
    }

    /** Creates a graph's variable for a layer parameter, backed by the layer's own array. */
    private Function<String, SDVariable> parameters(SameDiff sd) {
        Map<String, long[]> shapes = network().getLayerParams().getParamShapes();
        return name -> {
            long[] shape = shapes.get(name);
            if (shape == null) {
                throw new IllegalStateException("layer " + network().getLayerName() + " has no parameter " + name);
            }
            SDVariable v = sd.var(name, dataType, shape);
            sd.associateArrayWithVariable(paramTable.get(name), v);
            return v;
        };
    }
}

package dev.mtpspark.core.model;

import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.gradient.DefaultGradient;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.layers.samediff.DL4JSameDiffMemoryMgr;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.array.SingleThreadArrayHolder;
import org.nd4j.autodiff.samediff.api.OutAndGrad;
import org.nd4j.autodiff.samediff.internal.InferenceSession;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.memory.conf.WorkspaceConfiguration;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.random.impl.BernoulliDistribution;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.INDArrayIndex;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The DL4J implementation of {@link MtpNetworkLayer}, replacing DL4J M2.1's {@code SameDiffOutputLayer} for three
 * reasons:
 * <ul>
 *   <li><b>One execution per step.</b> DL4J asks an output layer for the score right after back-propagating it,
 *   and DL4J's implementation answers by running the whole forward pass again. Here one SameDiff
 *   {@code calculateGradientsAndOutputs} returns the gradients and the loss, and the loss is kept for the score
 *   that follows (docs/performance.md, improvement 1).</li>
 *   <li><b>Dropout.</b> DL4J's SameDiff layers ignore dropout; this one draws the masks of
 *   {@link MtpNetworkLayer#dropoutPoints()} per training pass and feeds them as placeholders, so the forward and
 *   backward passes of a step see the same masks; inference feeds ones.</li>
 *   <li><b>No input gradient.</b> The input is token ids; DL4J still expects an array, which is zeros.</li>
 * </ul>
 */
final class LayerImplementations {
    private LayerImplementations() {
    }

    /**
     * The whole-network output layer, all heads in one graph. The token embedding is a row lookup outside
     * the graph ({@link TokenEmbedding}); the graph starts from the embedded rows. Where {@link DirectTrainingStep}
     * covers the configuration, training steps run it instead of the graph, which then serves inference and
     * scoring only (and is built on first use).
     */
    static class OutputLayer extends org.deeplearning4j.nn.layers.samediff.SameDiffOutputLayer {
        private double lastLoss = Double.NaN;
        private INDArray lastLossInput;
        private INDArray lastLossLabels;

        OutputLayer(NeuralNetConfiguration conf, DataType dataType) {
            super(conf, dataType);
        }

        protected MtpNetworkLayer network() {
            return (MtpNetworkLayer) layerConf();
        }

        @Override
        public INDArray activate(boolean training, LayerWorkspaceMgr workspaceMgr) {
            assertInputSet(false);
            ensureInit();
            INDArray out = forward(training, workspaceMgr, MtpNetworkLayer.ACTIVATIONS, false);
            if (workspaceMgr.isScopedOut(ArrayType.ACTIVATIONS)) {
                return out.isAttached() ? out.detach() : out;
            }
            String ws = workspaceMgr.getWorkspaceName(ArrayType.ACTIVATIONS);
            return out.isAttached() && out.data().getParentWorkspace().getId().equals(ws) ? out : workspaceMgr.dup(ArrayType.ACTIVATIONS, out);
        }

        @Override
        public double computeScore(double fullNetRegTerm, boolean training, LayerWorkspaceMgr workspaceMgr) {
            if (input == lastLossInput && labels == lastLossLabels && !Double.isNaN(lastLoss)) {
                double loss = takeLastLoss();
                return (loss + fullNetRegTerm) / input.size(0);
            }
            takeLastLoss();
            return scoreWithoutBackprop(fullNetRegTerm, training, workspaceMgr);
        }

        /** The score of a batch that was not just back-propagated. */
        protected double scoreWithoutBackprop(double fullNetRegTerm, boolean training, LayerWorkspaceMgr workspaceMgr) {
            assertInputSet(false);
            ensureInit();
            double loss = forward(training, workspaceMgr, outputVar.name(), true).getDouble(0);
            return (loss + fullNetRegTerm) / input.size(0);
        }

        /** Builds the SameDiff graph on first use, outside DL4J's workspaces. */
        protected void ensureInit() {
            if (sameDiff == null) {
                try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
                    doInit();
                }
            }
        }

        /** Runs the whole-network graph forward to {@code variable}, allocating in DL4J's forward workspaces. */
        private INDArray forward(boolean training, LayerWorkspaceMgr workspaceMgr, String variable, boolean withLabels) {
            InferenceSession session = sameDiff.getSessions().computeIfAbsent(Thread.currentThread().getId(),
                    id -> SameDiff.getInferenceFactory().create(sameDiff));
            session.setMmgr(new DL4JSameDiffMemoryMgr(
                    workspaceMgr.getWorkspaceName(ArrayType.FF_WORKING_MEM), workspaceMgr.getWorkspaceName(ArrayType.ACTIVATIONS),
                    workspaceMgr.getConfiguration(ArrayType.FF_WORKING_MEM), workspaceMgr.getConfiguration(ArrayType.ACTIVATIONS)));
            Map<String, INDArray> placeholders = new HashMap<>(dropoutMasks(training, input.size(0)));
            placeholders.put(INPUT_KEY, input);
            placeholders.put(MtpNetworkLayer.EMBEDDED, embedding().rows(tokenTable(), positionTable()));
            if (withLabels) {
                placeholders.put(LABELS_KEY, labels);
            }
            INDArray out = sameDiff.outputSingle(placeholders, variable);
            sameDiff.clearPlaceholders(true);
            sameDiff.clearOpInputs();
            return out;
        }

        /**
         * The dropout masks for one pass over a batch of {@code batch} windows: in training, inverted-dropout masks
         * (0 with the dropout probability, else 1/(1−p)); otherwise a [1, 1] one per point. Outside workspaces.
         */
        protected Map<String, INDArray> dropoutMasks(boolean training, long batch) {
            MtpNetworkLayer conf = network();
            Map<String, INDArray> masks = new HashMap<>();
            try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
                double retain = 1.0 - conf.getDropout();
                long rows = batch * conf.getSpec().getContextLength();
                for (int i = 0; i < conf.dropoutPoints(); i++) {
                    INDArray mask;
                    if (training) {
                        mask = Nd4j.createUninitialized(dataType, rows, conf.dropoutWidth(i));
                        Nd4j.getExecutioner().exec(new BernoulliDistribution(mask, retain));
                        mask.divi(retain);
                    } else {
                        mask = Nd4j.ones(dataType, 1, 1);
                    }
                    masks.put(MtpNetworkLayer.dropoutName(i), mask);
                }
            }
            return masks;
        }

        /**
         * Ends a backward pass whose gradients are in {@code gradTable}: records its loss for the score DL4J asks for
         * next and returns DL4J's gradient and the (zero) input gradient.
         */
        protected Pair<Gradient, INDArray> finishBackprop(double loss, LayerWorkspaceMgr workspaceMgr) {
            lastLoss = loss;
            lastLossInput = input;
            lastLossLabels = labels;
            Gradient gradient = new DefaultGradient();
            gradTable.forEach((name, array) -> gradient.gradientForVariable().put(name, array));
            return new Pair<>(gradient, inputGradient(workspaceMgr));
        }

        /** A new uninitialised array shaped as {@code like}, outside any workspace (a whole batch's row gradient). */
        protected static INDArray detachedLike(INDArray like) {
            try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
                return Nd4j.createUninitializedDetached(like.dataType(), like.shape());
            }
        }

        /** Checks that input and labels are set, before either implementation's backward pass. */
        protected void prepareBackprop() {
            assertInputSet(true);
            if (labels == null) {
                throw new IllegalStateException("Cannot back-propagate the MTP network: labels are not set");
            }
        }

        /** The token ids of the current input, read for the embedding lookup. */
        protected TokenEmbedding embedding() {
            return new TokenEmbedding(input, network().getVocabSize());
        }

        protected INDArray tokenTable() {
            return paramTable.get(MtpNetworkLayer.TOKEN_TABLE);
        }

        /** The learned position table, or null with rotary positions. */
        protected INDArray positionTable() {
            return paramTable.get(MtpNetworkLayer.POSITION_TABLE);
        }

        /** Writes the embedding tables' gradients from the gradient of the embedded rows. */
        protected void writeEmbeddingGradients(TokenEmbedding embedding, INDArray rowGradient) {
            embedding.writeGradients(rowGradient, gradTable.get(MtpNetworkLayer.TOKEN_TABLE), gradTable.get(MtpNetworkLayer.POSITION_TABLE));
        }

        /** The parameters the graphs read: all but the embedding tables. */
        protected List<String> graphParameters() {
            List<String> names = new ArrayList<>();
            for (String name : paramTable.keySet()) {
                if (!MtpNetworkLayer.isEmbeddingTable(name)) {
                    names.add(name);
                }
            }
            return names;
        }

        /** DL4J's gradient with respect to the input (token ids): zeros, as ids are not differentiable. */
        protected INDArray inputGradient(LayerWorkspaceMgr workspaceMgr) {
            return workspaceMgr.create(ArrayType.ACTIVATION_GRAD, dataType, input.shape());
        }

        private double takeLastLoss() {
            double loss = lastLoss;
            lastLoss = Double.NaN;
            lastLossInput = null;
            lastLossLabels = null;
            return loss;
        }

        @Override
        public Pair<Gradient, INDArray> backpropGradient(INDArray epsilon, LayerWorkspaceMgr workspaceMgr) {
            // ComputationGraph back-propagates the output layer before it computes the score.
            prepareBackprop();
            if (usesDirectStep()) {
                return directBackprop(workspaceMgr);
            }
            ensureInit();
            try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
                if (sameDiff.getFunction("grad") == null) {
                    sameDiff.createGradFunction(MtpNetworkLayer.EMBEDDED);
                }
            }
            // As DL4J's implementation: the gradient session allocates in DL4J's workspaces for this step.
            SameDiff gradFunction = sameDiff.getFunction("grad");
            gradFunction.getSessions().computeIfAbsent(Thread.currentThread().getId(),
                    id -> SameDiff.getInferenceFactory().create(gradFunction)).setMmgr(new DL4JSameDiffMemoryMgr(
                    workspaceMgr.getWorkspaceName(ArrayType.BP_WORKING_MEM), workspaceMgr.getWorkspaceName(ArrayType.ACTIVATION_GRAD),
                    workspaceMgr.getConfiguration(ArrayType.BP_WORKING_MEM), workspaceMgr.getConfiguration(ArrayType.ACTIVATION_GRAD)));

            long batch = input.size(0);
            TokenEmbedding embedding = embedding();
            Map<String, INDArray> masks = dropoutMasks(true, batch);
            INDArray rows = embedding.rows(tokenTable(), positionTable());
            boolean cpu = Nd4j.getEnvironment().isCPU();
            int count = network().shardsFor(batch, cpu);
            int threadsPerShard = Math.max(1, network().threadBudget(cpu) / count);
            double loss;
            if (count == 1) {
                INDArray[] rowGradient = new INDArray[1];
                loss = BatchShards.withOpThreads(threadsPerShard,
                        () -> shardGradient(sameDiff, placeholders(masks, rows, labels), gradTable, g -> rowGradient[0] = g));
                writeEmbeddingGradients(embedding, rowGradient[0]);
            } else {
                shards = reuseOrBuild(shards, count, this::newWholeNetworkGraph);
                BatchShards<SameDiff> sharded = shards;
                INDArray rowGradient = detachedLike(rows);
                WorkspaceConfiguration workspace = workspaceMgr.isScopedOut(ArrayType.BP_WORKING_MEM) ? null
                        : workspaceMgr.getConfiguration(ArrayType.BP_WORKING_MEM);
                BatchShards.ShardWork<SameDiff> work = (graph, j, target) -> {
                    if (j > 0) {
                        BatchShards.allocateInWorkspace(graph, workspace);
                    }
                    Shard shard = shard(masks, rows, sharded.start(j, batch), sharded.start(j + 1, batch));
                    return shardGradient(graph, placeholders(shard.masks(), shard.rows(), shard.labels()), target,
                            g -> rowGradient.get(shard.rowRange(), NDArrayIndex.all()).assign(g));
                };
                loss = sharded.run(work, sameDiff, gradTable, gradients, workspace, threadsPerShard);
                writeEmbeddingGradients(embedding, rowGradient);
            }
            return finishBackprop(loss, workspaceMgr);
        }

        /** Whether training steps run {@link DirectTrainingStep} rather than the SameDiff graph(s). */
        protected boolean usesDirectStep() {
            return DirectTrainingStep.supports(network(), dataType, Nd4j.getEnvironment().isCPU());
        }

        private DirectTrainingStep directStep;
        private BatchShards<DirectTrainingStep> directShards;

        /**
         * The training step through {@link DirectTrainingStep} (no SameDiff graph is built for training), sharded
         * over the step's threads as the SameDiff path.
         */
        private Pair<Gradient, INDArray> directBackprop(LayerWorkspaceMgr workspaceMgr) {
            long batch = input.size(0);
            TokenEmbedding embedding = embedding();
            Map<String, INDArray> masks = dropoutMasks(true, batch);
            INDArray rows = embedding.rows(tokenTable(), positionTable());
            int count = network().shardsFor(batch, true);
            int threadsPerShard = Math.max(1, network().threadBudget(true) / count);
            if (directStep == null) {
                directStep = new DirectTrainingStep(network(), dataType);
            }
            directShards = reuseOrBuild(directShards, count, () -> new DirectTrainingStep(network(), dataType));
            BatchShards<DirectTrainingStep> sharded = directShards;
            INDArray rowGradient = detachedLike(rows);
            BatchShards.ShardWork<DirectTrainingStep> work = (step, j, target) -> {
                Shard shard = shard(masks, rows, sharded.start(j, batch), sharded.start(j + 1, batch));
                return step.run(paramTable, shard.rows(), shard.masks(), shard.labels(), target,
                        g -> rowGradient.get(shard.rowRange(), NDArrayIndex.all()).assign(g));
            };
            double loss = sharded.run(work, directStep, gradTable, gradients, null, threadsPerShard);
            writeEmbeddingGradients(embedding, rowGradient);
            return finishBackprop(loss, workspaceMgr);
        }

        /** Windows [from, to) of the batch: their dropout-mask rows, embedded rows and labels, and their row range. */
        protected record Shard(Map<String, INDArray> masks, INDArray rows, INDArray labels, INDArrayIndex rowRange) {
        }

        /** Shard {@code [from, to)} of the current batch, as views of the whole batch's masks, rows and labels. */
        protected Shard shard(Map<String, INDArray> masks, INDArray rows, long from, long to) {
            long t = network().getSpec().getContextLength();
            INDArrayIndex rowRange = NDArrayIndex.interval(from * t, to * t);
            Map<String, INDArray> shardMasks = new HashMap<>();
            masks.forEach((name, mask) -> shardMasks.put(name, mask.size(0) == 1 ? mask : mask.get(rowRange, NDArrayIndex.all())));
            return new Shard(shardMasks, rows.get(rowRange, NDArrayIndex.all()),
                    labels.get(NDArrayIndex.interval(from, to), NDArrayIndex.all(), NDArrayIndex.all()), rowRange);
        }

        /** The whole-network graph's placeholders for a (shard of a) batch; a shard's slices are copied into arrays of their own. */
        private static Map<String, INDArray> placeholders(Map<String, INDArray> masks, INDArray rows, INDArray labels) {
            Map<String, INDArray> placeholders = new HashMap<>();
            masks.forEach((name, mask) -> placeholders.put(name, mask.isView() ? mask.dup() : mask));
            placeholders.put(MtpNetworkLayer.EMBEDDED, rows.isView() ? rows.dup() : rows);
            placeholders.put(LABELS_KEY, labels.isView() ? labels.dup() : labels);
            return placeholders;
        }

        /**
         * Forward and backward of {@code graph} on one (shard of a) batch: writes the parameter gradients into
         * {@code target}, hands the embedded rows' gradient to {@code rowGradient} while it is still valid, and
         * returns the loss (the shard's sum of weighted per-window losses).
         */
        private double shardGradient(SameDiff graph, Map<String, INDArray> placeholders, Map<String, INDArray> target,
                                     java.util.function.Consumer<INDArray> rowGradient) {
            List<String> parameters = graphParameters();
            List<String> wanted = new ArrayList<>(parameters);
            wanted.add(MtpNetworkLayer.EMBEDDED);
            String lossName = outputVar.name();
            OutAndGrad result = graph.calculateGradientsAndOutputs(placeholders, List.of(lossName), wanted);
            for (String name : parameters) {
                target.get(name).assign(result.getGradients().get(name));
            }
            rowGradient.accept(result.getGradients().get(MtpNetworkLayer.EMBEDDED));
            double loss = result.getOutputs().get(lossName).getDouble(0);
            graph.clearPlaceholders(true);
            graph.clearOpInputs();
            return loss;
        }

        private BatchShards<SameDiff> shards;

        /**
         * {@code current} if it runs {@code count} shards, else a new shard executor for {@code count} shards whose
         * extra shards run graphs from {@code graphs} and write gradient buffers laid out as this layer's.
         */
        protected <G> BatchShards<G> reuseOrBuild(BatchShards<G> current, int count, java.util.function.Supplier<G> graphs) {
            if (current != null && current.shards() == count) {
                return current;
            }
            return new BatchShards<>(count, graphs, gradients, flat -> layerConf().initializer().getGradientsFromFlattened(conf, flat));
        }

        /**
         * Another instance of the whole-network graph, as DL4J's {@code doInit} builds the layer's own (same
         * variable names, so the same output name), reading the layer's parameter arrays, with its gradient function.
         */
        private SameDiff newWholeNetworkGraph() {
            SameDiff sd = newGraph();
            MtpNetworkLayer conf = network();
            long[] inputShape = input.shape().clone();
            inputShape[0] = -1;
            long[] labelShape = labels.shape().clone();
            labelShape[0] = -1;
            SDVariable inputVar = sd.placeHolder(INPUT_KEY, dataType, inputShape);
            SDVariable labelVar = sd.placeHolder(LABELS_KEY, dataType, labelShape);
            Map<String, SDVariable> variables = new LinkedHashMap<>();
            conf.getLayerParams().getParamShapes().forEach((name, shape) -> variables.put(name, sd.var(name, dataType, shape)));
            SDVariable out = conf.defineLayer(sd, inputVar, labelVar, variables);
            if (!out.name().equals(outputVar.name())) {
                throw new IllegalStateException("graph copy names its loss " + out.name() + ", the layer's graph " + outputVar.name());
            }
            paramTable.forEach((name, array) -> sd.associateArrayWithVariable(array, sd.getVariable(name)));
            sd.createGradFunction(MtpNetworkLayer.EMBEDDED);
            return sd;
        }
    }

    /** A new, empty graph whose variables may be views of the layer's flat parameter vector. */
    static SameDiff newGraph() {
        SameDiff sd = SameDiff.create();
        // As DL4J's own SameDiff layers: a single-thread array holder lets variables be views of the flat parameters.
        sd.setArrayHolders(new SingleThreadArrayHolder(), new SingleThreadArrayHolder(), false);
        return sd;
    }

    /** Wires a freshly created implementation the way DL4J's own {@code instantiate} does. */
    static <L extends Layer> L wire(L layer, org.deeplearning4j.nn.conf.layers.samediff.AbstractSameDiffLayer conf,
                                    NeuralNetConfiguration nnc, int index, INDArray paramsView, boolean initialize) {
        layer.setIndex(index);
        layer.setParamsViewArray(paramsView);
        layer.setParamTable(conf.initializer().init(nnc, paramsView, initialize));
        layer.setConf(nnc);
        return layer;
    }
}

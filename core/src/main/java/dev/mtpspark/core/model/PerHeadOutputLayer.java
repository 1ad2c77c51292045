package dev.mtpspark.core.model;

import dev.mtpspark.core.config.HeadArchitecture;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.gradient.DefaultGradient;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.array.SingleThreadArrayHolder;
import org.nd4j.autodiff.samediff.api.OutAndGrad;
import org.nd4j.autodiff.samediff.internal.InferenceSession;
import org.nd4j.autodiff.samediff.internal.memory.AbstractMemoryMgr;
import org.nd4j.linalg.api.shape.LongShapeDescriptor;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The head layer's implementation for {@link dev.mtpspark.core.config.HeadOrder#PER_HEAD}: the paper's
 * memory-efficient order. DL4J runs the trunk forward once and hands this layer the trunk output; this layer
 * runs each head's own small graph ({@link MtpHeadLayer#defineHeadGraph}) forward and backward in turn,
 * accumulates the parameter gradients and dL/d(trunk output), and lets each head's logits go before the next
 * head starts; DL4J then runs the trunk backward once.
 *
 * <p>The head graphs run outside DL4J's workspaces, with a SameDiff memory manager that frees every array a head
 * allocated once that head is done ({@link HeadScopedMemoryMgr}): inside DL4J's workspaces nothing would be freed
 * before the whole step ends, and SameDiff's default cache keeps released arrays (up to a quarter of the off-heap
 * limit) — either would bring back the n·[B, T, V] peak this order avoids. Inference ({@code activate}, the
 * {@code [B, n, T, V]} logits) keeps the all-heads graph, because its output holds every head's logits anyway.
 *
 * <p>Sequential heads chain through their hidden states: the hidden states are computed forward first (without
 * logits), then the depths are back-propagated from the last, each receiving dL/d(hidden) from the later
 * ones. That costs one extra forward pass of each sequential block.
 */
final class PerHeadOutputLayer extends LayerImplementations.OutputLayer {
    private SameDiff[] heads;
    private final HeadScopedMemoryMgr memory = new HeadScopedMemoryMgr();

    PerHeadOutputLayer(NeuralNetConfiguration conf, DataType dataType) {
        super(conf, dataType);
    }

    private MtpHeadLayer head() {
        return (MtpHeadLayer) layerConf();
    }

    @Override
    public Pair<Gradient, INDArray> backpropGradient(INDArray epsilon, LayerWorkspaceMgr workspaceMgr) {
        prepareBackprop(workspaceMgr);
        INDArray inputGradient;
        double loss;
        try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
            SameDiff[] graphs = graphs();
            for (INDArray g : gradTable.values()) {
                g.assign(0);
            }
            inputGradient = Nd4j.zeros(dataType, input.shape());
            loss = sequential() ? backpropSequential(graphs, inputGradient) : backpropIndependent(graphs, inputGradient);
        }
        Gradient gradient = new DefaultGradient();
        for (Map.Entry<String, INDArray> e : gradTable.entrySet()) {
            gradient.gradientForVariable().put(e.getKey(), e.getValue());
        }
        if (!workspaceMgr.isScopedOut(ArrayType.ACTIVATION_GRAD)) {
            inputGradient = workspaceMgr.dup(ArrayType.ACTIVATION_GRAD, inputGradient);
        }
        backpropDropOutIfPresent(inputGradient);
        rememberLoss(loss);
        return new Pair<>(gradient, inputGradient);
    }

    /** Parallel and linear heads: each head forward + backward on its own; returns the summed weighted loss. */
    private double backpropIndependent(SameDiff[] graphs, INDArray inputGradient) {
        double loss = 0;
        for (SameDiff graph : graphs) {
            loss += step(graph, placeholders(null, null), inputGradient, null);
        }
        return loss;
    }

    /**
     * Sequential heads: hidden states forward (no logits), then depths n..1 backward, each adding the gradient
     * of the later depths through {@link MtpHeadLayer#HEAD_UPSTREAM}.
     */
    private double backpropSequential(SameDiff[] graphs, INDArray inputGradient) {
        int n = graphs.length;
        INDArray[] hidden = new INDArray[n];
        for (int k = 1; k < n; k++) {
            Map<String, INDArray> ph = placeholders(k >= 2 ? hidden[k - 2] : null, null);
            allocateThroughMemory(graphs[k - 1].getSessions(), graphs[k - 1]);
            hidden[k - 1] = graphs[k - 1].outputSingle(ph, MtpHeadLayer.HEAD_HIDDEN).dup();
            memory.freeAll();
        }
        double loss = 0;
        INDArray upstream = null;
        for (int k = n; k >= 1; k--) {
            INDArray[] previousGradient = new INDArray[1];
            loss += step(graphs[k - 1], placeholders(k >= 2 ? hidden[k - 2] : null, upstream), inputGradient,
                    k >= 2 ? previousGradient : null);
            upstream = previousGradient[0];
        }
        return loss;
    }

    /**
     * One head's forward and backward: adds its parameter gradients to the layer's gradient and its input gradient
     * to {@code inputGradient}; stores dL/d(previous depth) in {@code previousGradient[0]} when asked.
     */
    private double step(SameDiff graph, Map<String, INDArray> placeholders, INDArray inputGradient, INDArray[] previousGradient) {
        List<String> parameters = parametersOf(graph);
        List<String> wanted = new ArrayList<>(parameters);
        wanted.add(MtpHeadLayer.HEAD_INPUT);
        if (previousGradient != null) {
            wanted.add(MtpHeadLayer.HEAD_PREVIOUS);
        }
        allocateThroughMemory(graph.getFunction("grad").getSessions(), graph.getFunction("grad"));
        OutAndGrad result = graph.calculateGradientsAndOutputs(placeholders, List.of(MtpHeadLayer.HEAD_LOSS), wanted);
        Map<String, INDArray> grads = result.getGradients();
        for (String name : parameters) {
            gradTable.get(name).addi(grads.get(name));
        }
        inputGradient.addi(grads.get(MtpHeadLayer.HEAD_INPUT));
        if (previousGradient != null) {
            previousGradient[0] = grads.get(MtpHeadLayer.HEAD_PREVIOUS).dup();
        }
        double loss = result.getOutputs().get(MtpHeadLayer.HEAD_LOSS).getDouble(0);
        graph.clearPlaceholders(true);
        graph.clearOpInputs();
        memory.freeAll();                                     // this head's logits and everything else it allocated
        return loss;
    }

    /** Scores a batch that was not just back-propagated (evaluation), one head at a time. */
    @Override
    protected double scoreWithoutBackprop(double fullNetRegTerm, boolean training, LayerWorkspaceMgr workspaceMgr) {
        double loss;
        try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
            loss = forwardLoss(graphs());
        }
        return (loss + fullNetRegTerm) / input.size(0);
    }

    /** The summed weighted loss, one head at a time, without gradients. */
    private double forwardLoss(SameDiff[] graphs) {
        double loss = 0;
        INDArray previous = null;
        for (int k = 1; k <= graphs.length; k++) {
            SameDiff graph = graphs[k - 1];
            Map<String, INDArray> ph = placeholders(sequential() && k >= 2 ? previous : null, null);
            List<String> outputs = sequential() ? List.of(MtpHeadLayer.HEAD_LOSS, MtpHeadLayer.HEAD_HIDDEN) : List.of(MtpHeadLayer.HEAD_LOSS);
            allocateThroughMemory(graph.getSessions(), graph);
            Map<String, INDArray> out = graph.output(ph, outputs);
            loss += out.get(MtpHeadLayer.HEAD_LOSS).getDouble(0);
            if (sequential()) {
                previous = out.get(MtpHeadLayer.HEAD_HIDDEN).dup();
            }
            graph.clearPlaceholders(true);
            graph.clearOpInputs();
            memory.freeAll();
        }
        return loss;
    }

    /** Makes this thread's session of {@code graph} allocate through {@link #memory}. */
    private void allocateThroughMemory(Map<Long, InferenceSession> sessions, SameDiff graph) {
        sessions.computeIfAbsent(Thread.currentThread().getId(), id -> SameDiff.getInferenceFactory().create(graph))
                .setMmgr(memory);
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
        return head().getHeadArchitecture() == HeadArchitecture.SEQUENTIAL;
    }

    private Map<String, INDArray> placeholders(INDArray previous, INDArray upstream) {
        Map<String, INDArray> ph = new HashMap<>();
        ph.put(MtpHeadLayer.HEAD_INPUT, input);
        ph.put(MtpHeadLayer.HEAD_LABELS, labels);
        if (previous != null) {
            ph.put(MtpHeadLayer.HEAD_PREVIOUS, previous);
        }
        if (upstream != null) {
            ph.put(MtpHeadLayer.HEAD_UPSTREAM, upstream);
        }
        return ph;
    }

    /** The layer parameters a head graph uses: its variables, which are exactly the parameters it read. */
    private List<String> parametersOf(SameDiff graph) {
        List<String> names = new ArrayList<>();
        for (SDVariable v : graph.variables()) {
            if (paramTable.containsKey(v.name())) {
                names.add(v.name());
            }
        }
        return names;
    }

    /** Builds the n head graphs on first use; parameters are the layer's own arrays (views of the flat vector). */
    private SameDiff[] graphs() {
        if (heads != null) {
            return heads;
        }
        MtpHeadLayer conf = head();
        int n = conf.getPredictedTokens();
        long[] inputShape = input.shape().clone();
        inputShape[0] = -1;
        long[] labelShape = labels == null ? new long[] {-1, n, conf.getSpec().getContextLength()} : labels.shape().clone();
        labelShape[0] = -1;
        Map<String, long[]> shapes = conf.getLayerParams().getParamShapes();
        SameDiff[] built = new SameDiff[n];
        for (int k = 1; k <= n; k++) {
            SameDiff sd = SameDiff.create();
            // As DL4J's own SameDiff layers: a single-thread array holder lets variables be views of the flat parameters.
            sd.setArrayHolders(new SingleThreadArrayHolder(), new SingleThreadArrayHolder(), false);
            conf.defineHeadGraph(sd, k, inputShape, labelShape, dataType, name -> {
                long[] shape = shapes.get(name);
                if (shape == null) {
                    throw new IllegalStateException("head " + conf.getLayerName() + " has no parameter " + name);
                }
                SDVariable v = sd.var(name, dataType, shape);
                sd.associateArrayWithVariable(paramTable.get(name), v);
                return v;
            });
            List<String> needGradients = new ArrayList<>(List.of(MtpHeadLayer.HEAD_INPUT));
            if (sd.hasVariable(MtpHeadLayer.HEAD_PREVIOUS)) {
                needGradients.add(MtpHeadLayer.HEAD_PREVIOUS);
            }
            sd.createGradFunction(needGradients.toArray(new String[0]));
            built[k - 1] = sd;
        }
        heads = built;
        return heads;
    }
}

package dev.mtpspark.core.model;

import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.gradient.DefaultGradient;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.layers.samediff.DL4JSameDiffMemoryMgr;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.api.OutAndGrad;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.factory.Nd4j;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Implementations of our SameDiff layers that fix two gaps of DL4J M2.1's own: they ignore the layer's
 * dropout, and a hidden SameDiff layer's gradients come out doubled.
 *
 * <p>Dropout: these subclasses apply DL4J's standard input dropout in training, and keep the forward and backward passes consistent: the dropped
 * input replaces the layer's input (so SameDiff's backward sees the same mask) and the gradient with
 * respect to the original input is masked with that same mask.
 */
final class LayerImplementations {
    private LayerImplementations() {
    }

    /** Hidden layer (embedding, trunk block) implementation with input dropout. */
    static final class HiddenLayer extends org.deeplearning4j.nn.layers.samediff.SameDiffLayer {
        HiddenLayer(NeuralNetConfiguration conf, DataType dataType) {
            super(conf, dataType);
        }

        @Override
        public INDArray activate(boolean training, LayerWorkspaceMgr workspaceMgr) {
            applyDropOutIfNecessary(training, workspaceMgr);
            return super.activate(training, workspaceMgr);
        }

        @Override
        public Pair<Gradient, INDArray> backpropGradient(INDArray epsilon, LayerWorkspaceMgr workspaceMgr) {
            // M2.1's external-errors function feeds the incoming gradient into the layer output twice, which
            // doubles every gradient of a SameDiffLayer; halve it here. GradientCheckTest guards this.
            Pair<Gradient, INDArray> result = super.backpropGradient(epsilon.mul(0.5), workspaceMgr);
            backpropDropOutIfPresent(result.getSecond());
            return result;
        }
    }

    /**
     * Output (head) layer implementation with input dropout, which also keeps the loss its backward pass computed:
     * DL4J asks an output layer for the score right after back-propagating it, and DL4J's own implementation
     * answers by running the whole forward pass again (every head's logits and losses) — measured at about a
     * sixth of a training step (docs/performance.md). Here one SameDiff execution returns the gradients and the
     * loss together.
     */
    static class OutputLayer extends org.deeplearning4j.nn.layers.samediff.SameDiffOutputLayer {
        private double lastLoss = Double.NaN;
        private INDArray lastLossInput;
        private INDArray lastLossLabels;

        OutputLayer(NeuralNetConfiguration conf, DataType dataType) {
            super(conf, dataType);
        }

        @Override
        public INDArray activate(boolean training, LayerWorkspaceMgr workspaceMgr) {
            applyDropOutIfNecessary(training, workspaceMgr);
            return super.activate(training, workspaceMgr);
        }

        @Override
        public double computeScore(double fullNetRegTerm, boolean training, LayerWorkspaceMgr workspaceMgr) {
            applyDropOutIfNecessary(training, workspaceMgr);
            if (input == lastLossInput && labels == lastLossLabels && !Double.isNaN(lastLoss)) {
                double loss = takeLastLoss();
                return (loss + fullNetRegTerm) / input.size(0);
            }
            takeLastLoss();
            return scoreWithoutBackprop(fullNetRegTerm, training, workspaceMgr);
        }

        /** The score of a batch that was not just back-propagated. */
        protected double scoreWithoutBackprop(double fullNetRegTerm, boolean training, LayerWorkspaceMgr workspaceMgr) {
            return super.computeScore(fullNetRegTerm, training, workspaceMgr);
        }

        /** Records the loss of the batch just back-propagated, for the score DL4J asks for next. */
        protected void rememberLoss(double loss) {
            lastLoss = loss;
            lastLossInput = input;
            lastLossLabels = labels;
        }

        /** Applies input dropout and checks that input and labels are set, before either implementation's backward pass. */
        protected void prepareBackprop(LayerWorkspaceMgr workspaceMgr) {
            applyDropOutIfNecessary(true, workspaceMgr);
            assertInputSet(true);
            if (labels == null) {
                throw new IllegalStateException("Cannot back-propagate the MTP heads: labels are not set");
            }
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
            prepareBackprop(workspaceMgr);
            try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
                if (sameDiff == null) {
                    doInit();
                }
                if (sameDiff.getFunction("grad") == null) {
                    sameDiff.createGradFunction(INPUT_KEY);
                }
            }
            // As DL4J's implementation: the gradient session allocates in DL4J's workspaces for this step.
            SameDiff gradFunction = sameDiff.getFunction("grad");
            gradFunction.getSessions().computeIfAbsent(Thread.currentThread().getId(),
                    id -> SameDiff.getInferenceFactory().create(gradFunction)).setMmgr(new DL4JSameDiffMemoryMgr(
                    workspaceMgr.getWorkspaceName(ArrayType.BP_WORKING_MEM), workspaceMgr.getWorkspaceName(ArrayType.ACTIVATION_GRAD),
                    workspaceMgr.getConfiguration(ArrayType.BP_WORKING_MEM), workspaceMgr.getConfiguration(ArrayType.ACTIVATION_GRAD)));

            List<String> wanted = new ArrayList<>(paramTable.keySet());
            wanted.add(INPUT_KEY);
            Map<String, INDArray> placeholders = new HashMap<>();
            placeholders.put(INPUT_KEY, input);
            placeholders.put(LABELS_KEY, labels);
            OutAndGrad result = sameDiff.calculateGradientsAndOutputs(placeholders, List.of(outputVar.name()), wanted);
            Gradient gradient = new DefaultGradient();
            for (String name : paramTable.keySet()) {
                INDArray target = gradTable.get(name);
                target.assign(result.getGradients().get(name));
                gradient.gradientForVariable().put(name, target);
            }
            double loss = result.getOutputs().get(outputVar.name()).getDouble(0);
            INDArray inputGradient = result.getGradients().get(INPUT_KEY);
            sameDiff.clearPlaceholders(true);
            sameDiff.clearOpInputs();
            boolean scopedOut = workspaceMgr.isScopedOut(ArrayType.ACTIVATION_GRAD);
            if (!scopedOut && !inputGradient.data().getParentWorkspace().getId()
                    .equals(workspaceMgr.getWorkspaceName(ArrayType.ACTIVATION_GRAD))) {
                inputGradient = workspaceMgr.dup(ArrayType.ACTIVATION_GRAD, inputGradient);
            } else if (scopedOut && inputGradient.isAttached()) {
                inputGradient = inputGradient.detach();
            }
            backpropDropOutIfPresent(inputGradient);
            rememberLoss(loss);
            return new Pair<>(gradient, inputGradient);
        }
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

package dev.mtpspark.core.model;

import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.common.primitives.Pair;
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

    /** Output (head) layer implementation with input dropout. */
    static class OutputLayer extends org.deeplearning4j.nn.layers.samediff.SameDiffOutputLayer {
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
            return super.computeScore(fullNetRegTerm, training, workspaceMgr);
        }

        @Override
        public Pair<Gradient, INDArray> backpropGradient(INDArray epsilon, LayerWorkspaceMgr workspaceMgr) {
            // ComputationGraph back-propagates the output layer before it computes the score.
            applyDropOutIfNecessary(true, workspaceMgr);
            Pair<Gradient, INDArray> result = super.backpropGradient(epsilon, workspaceMgr);
            backpropDropOutIfPresent(result.getSecond());
            return result;
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

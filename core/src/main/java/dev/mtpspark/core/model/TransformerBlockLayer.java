package dev.mtpspark.core.model;

import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.samediff.SDLayerParams;
import org.deeplearning4j.nn.conf.layers.samediff.SameDiffLayer;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.Collection;
import java.util.Map;

/**
 * One causal pre-norm transformer block of the shared trunk: {@code [B, d, T] → [B, d, T]}.
 * DL4J's built-in self-attention has no causal mask, so attention is built in SameDiff.
 */
public class TransformerBlockLayer extends SameDiffLayer {
    private BlockSpec spec;

    /** For JSON. */
    public TransformerBlockLayer() {
    }

    public TransformerBlockLayer(BlockSpec spec) {
        this.spec = spec;
    }

    @Override
    public SDVariable defineLayer(SameDiff sd, SDVariable input, Map<String, SDVariable> p, SDVariable mask) {
        TransformerOps ops = new TransformerOps(sd, spec, input.dataType());
        int d = spec.getModelWidth();
        return ops.toNcw(ops.block("", ops.toRows(input, d), p), d);
    }

    @Override
    public void defineParameters(SDLayerParams params) {
        TransformerOps.defineBlockParams(params, "", spec);
    }

    @Override
    public void initializeParameters(Map<String, INDArray> params) {
        TransformerOps.initParams(params, spec, getLayerName());
    }

    @Override
    public InputType getOutputType(int layerIndex, InputType inputType) {
        return InputType.recurrent(spec.getModelWidth(), spec.getContextLength());
    }

    @Override
    public Layer instantiate(NeuralNetConfiguration conf, Collection<TrainingListener> listeners, int index,
                             INDArray paramsView, boolean initialize, DataType dataType) {
        return LayerImplementations.wire(new LayerImplementations.HiddenLayer(conf, dataType), this, conf, index, paramsView, initialize);
    }

    public BlockSpec getSpec() { return spec; }
    public void setSpec(BlockSpec spec) { this.spec = spec; }
}

package dev.mtpspark.core.model;

import dev.mtpspark.core.config.PositionalEncoding;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.samediff.SDLayerParams;
import org.deeplearning4j.nn.conf.layers.samediff.SameDiffLayer;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.nd4j.autodiff.samediff.SDIndex;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;

/**
 * Token (and learned position) embedding. Input: token ids as {@code [B, C, T]} numbers; output
 * {@code [B, C·d, T]}. Channel 0 holds the window's tokens x[t] and gets the position embedding added;
 * channels j ≥ 1 (sequential heads only) hold the look-ahead tokens x[t+j], embedded with the same table
 * and no position, for the sequential heads to combine with the previous depth's hidden state.
 */
public class TokenEmbeddingLayer extends SameDiffLayer {
    public static final String TOKEN_TABLE = "tokW";
    public static final String POSITION_TABLE = "posW";

    private BlockSpec spec;
    private int vocabSize;
    private int channels;

    /** For JSON. */
    public TokenEmbeddingLayer() {
    }

    public TokenEmbeddingLayer(BlockSpec spec, int vocabSize, int channels) {
        this.spec = spec;
        this.vocabSize = vocabSize;
        this.channels = channels;
    }

    @Override
    public SDVariable defineLayer(SameDiff sd, SDVariable input, Map<String, SDVariable> p, SDVariable mask) {
        TransformerOps ops = new TransformerOps(sd, spec, input.dataType());
        int d = spec.getModelWidth();
        int t = spec.getContextLength();
        List<SDVariable> embedded = new ArrayList<>(channels);
        for (int c = 0; c < channels; c++) {
            SDVariable ids = sd.reshape(input.get(SDIndex.all(), SDIndex.point(c), SDIndex.all()), -1).castTo(DataType.INT);
            // One-hot product rather than gather: SameDiff's gather gradient (M2.1) builds a broken while loop.
            SDVariable oneHot = sd.oneHot(ids, vocabSize, -1, 1.0, 0.0, input.dataType());
            SDVariable rows = oneHot.mmul(p.get(TOKEN_TABLE));                                // [B·T, d]
            if (c == 0 && spec.getPositionalEncoding() == PositionalEncoding.LEARNED) {
                rows = sd.reshape(sd.reshape(rows, -1, t, d).add(p.get(POSITION_TABLE)), -1, d);
            }
            embedded.add(rows);
        }
        SDVariable all = channels == 1 ? embedded.get(0) : sd.concat(1, embedded.toArray(new SDVariable[0]));
        // Ids are not differentiable; a zero-valued path keeps DL4J's request for dL/dInput well defined.
        SDVariable zero = input.sum(true, 1, 2).mul(0.0);
        return ops.toNcw(all, channels * d).add(zero);
    }

    @Override
    public void defineParameters(SDLayerParams params) {
        params.addWeightParam(TOKEN_TABLE, vocabSize, spec.getModelWidth());
        if (spec.getPositionalEncoding() == PositionalEncoding.LEARNED) {
            params.addWeightParam(POSITION_TABLE, spec.getContextLength(), spec.getModelWidth());
        }
    }

    @Override
    public void initializeParameters(Map<String, INDArray> params) {
        TransformerOps.initParams(params, spec, getLayerName());
    }

    @Override
    public InputType getOutputType(int layerIndex, InputType inputType) {
        return InputType.recurrent((long) channels * spec.getModelWidth(), spec.getContextLength());
    }

    @Override
    public Layer instantiate(NeuralNetConfiguration conf, Collection<TrainingListener> listeners, int index,
                             INDArray paramsView, boolean initialize, DataType dataType) {
        return LayerImplementations.wire(new LayerImplementations.HiddenLayer(conf, dataType), this, conf, index, paramsView, initialize);
    }

    public BlockSpec getSpec() { return spec; }
    public void setSpec(BlockSpec spec) { this.spec = spec; }
    public int getVocabSize() { return vocabSize; }
    public void setVocabSize(int vocabSize) { this.vocabSize = vocabSize; }
    public int getChannels() { return channels; }
    public void setChannels(int channels) { this.channels = channels; }
}

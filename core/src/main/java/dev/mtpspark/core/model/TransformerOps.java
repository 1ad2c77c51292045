package dev.mtpspark.core.model;

import dev.mtpspark.core.config.NormType;
import dev.mtpspark.core.config.PositionalEncoding;
import org.deeplearning4j.nn.conf.layers.samediff.SDLayerParams;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.Map;
import java.util.SplittableRandom;

/**
 * Builds the pieces of a pre-norm causal transformer inside one {@link SameDiff} graph: norms, causal
 * multi-head attention (optionally rotary), the GELU MLP and whole blocks, plus their parameter
 * declarations and initialisation. Every custom layer of the model builds its graph through one instance,
 * so constants such as the causal mask exist once per graph.
 *
 * <p>Activations are position rows, 2-D {@code [N = B·T, d]}, from the embedding to the logits: SameDiff's
 * {@code mmul} of a rank-3 by a rank-2 array fails, and rows need no layout copies between blocks; attention
 * reshapes to batched rank-3 products {@code [B·h, T, ·]}.
 */
final class TransformerOps {
    private final SameDiff sd;
    private final BlockSpec spec;
    private final DataType dataType;
    private SDVariable causalMask;
    private SDVariable ropeCos;
    private SDVariable ropeSin;

    TransformerOps(SameDiff sd, BlockSpec spec, DataType dataType) {
        this.sd = sd;
        this.spec = spec;
        this.dataType = dataType;
    }

    /** Parameter names of the token and position embedding tables. */
    static final String TOKEN_TABLE = "tokW";
    static final String POSITION_TABLE = "posW";

    // ---------------------------------------------------------------- parameters

    /** Declares the embedding tables: tokens {@code [V, d]}, plus positions {@code [T, d]} when learned. */
    static void defineEmbeddingParams(SDLayerParams params, int vocabSize, BlockSpec spec) {
        params.addWeightParam(TOKEN_TABLE, vocabSize, spec.getModelWidth());
        if (spec.getPositionalEncoding() == PositionalEncoding.LEARNED) {
            params.addWeightParam(POSITION_TABLE, spec.getContextLength(), spec.getModelWidth());
        }
    }

    /** Declares the parameters of a norm: gain, plus bias for LayerNorm. */
    static void defineNormParams(SDLayerParams params, String name, BlockSpec spec) {
        params.addBiasParam(name + "Gain", 1, spec.getModelWidth());
        if (spec.getNormType() == NormType.LAYER_NORM) {
            params.addBiasParam(name + "Bias", 1, spec.getModelWidth());
        }
    }

    /** Declares the parameters of one block whose names all start with {@code prefix}. */
    static void defineBlockParams(SDLayerParams params, String prefix, BlockSpec spec) {
        long d = spec.getModelWidth();
        long m = spec.getMlpWidth();
        defineNormParams(params, prefix + "ln1", spec);
        params.addWeightParam(prefix + "attnQkvW", d, 3 * d);
        params.addBiasParam(prefix + "attnQkvBias", 1, 3 * d);
        params.addWeightParam(prefix + "attnOutW", d, d);
        params.addBiasParam(prefix + "attnOutBias", 1, d);
        defineNormParams(params, prefix + "ln2", spec);
        params.addWeightParam(prefix + "mlpInW", d, m);
        params.addBiasParam(prefix + "mlpInBias", 1, m);
        params.addWeightParam(prefix + "mlpOutW", m, d);
        params.addBiasParam(prefix + "mlpOutBias", 1, d);
    }

    /**
     * Initialises every parameter in {@code params} by its name: norm gains 1, biases 0, residual output
     * projections N(0, σ/√(2·blocks)), every other matrix N(0, σ). Each parameter draws from its own
     * stream seeded by the model seed, the layer and the parameter name, so initialisation does not
     * depend on the order in which DL4J initialises layers.
     */
    static void initParams(Map<String, INDArray> params, BlockSpec spec, String layerName) {
        for (Map.Entry<String, INDArray> e : params.entrySet()) {
            String name = e.getKey();
            INDArray arr = e.getValue();
            if (name.endsWith("Gain")) {
                arr.assign(1.0);
            } else if (name.endsWith("Bias")) {
                arr.assign(0.0);
            } else {
                double std = spec.getInitStd();
                if (name.endsWith("attnOutW") || name.endsWith("mlpOutW")) {
                    std /= Math.sqrt(2.0 * spec.getResidualBlocks());
                }
                fillNormal(arr, std, spec.getSeed() * 31 + (layerName + "/" + name).hashCode());
            }
        }
    }

    private static void fillNormal(INDArray arr, double std, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        double[] values = new double[(int) arr.length()];
        for (int i = 0; i < values.length; i++) {
            values[i] = nextGaussian(random) * std;
        }
        arr.assign(Nd4j.create(values, arr.shape(), 'c').castTo(arr.dataType()));
    }

    private static double nextGaussian(SplittableRandom r) {
        // Box–Muller; SplittableRandom has no nextGaussian before Java 17's RandomGenerator default.
        double u1 = r.nextDouble();
        double u2 = r.nextDouble();
        return Math.sqrt(-2.0 * Math.log(1.0 - u1)) * Math.cos(2.0 * Math.PI * u2);
    }

    // ---------------------------------------------------------------- graph pieces

    /** Normalises {@code x [N, d]} over the feature axis with the named norm's parameters. */
    SDVariable norm(String name, SDVariable x, Map<String, SDVariable> p) {
        double eps = spec.getNormEpsilon();
        SDVariable gain = p.get(name + "Gain");
        if (spec.getNormType() == NormType.RMS_NORM) {
            SDVariable meanSquare = x.mul(x).mean(true, 1);
            return x.div(sd.math.sqrt(meanSquare.add(eps))).mul(gain);
        }
        SDVariable centred = x.sub(x.mean(true, 1));
        SDVariable variance = centred.mul(centred).mean(true, 1);
        return centred.div(sd.math.sqrt(variance.add(eps))).mul(gain).add(p.get(name + "Bias"));
    }

    /** One pre-norm block: {@code x + attn(norm1(x))}, then {@code + mlp(norm2(·))}; {@code x} is [N, d]. */
    SDVariable block(String prefix, SDVariable x, Map<String, SDVariable> p) {
        SDVariable afterAttention = x.add(attention(prefix, norm(prefix + "ln1", x, p), p));
        return afterAttention.add(mlp(prefix, norm(prefix + "ln2", afterAttention, p), p));
    }

    /** Causal multi-head self-attention of {@code x [N, d]} with fused QKV projection. */
    SDVariable attention(String prefix, SDVariable x, Map<String, SDVariable> p) {
        int d = spec.getModelWidth();
        int h = spec.getAttentionHeads();
        int hd = spec.headWidth();
        int t = spec.getContextLength();
        SDVariable qkv = x.mmul(p.get(prefix + "attnQkvW")).add(p.get(prefix + "attnQkvBias"));
        // [B·T, 3d] -> [B, T, 3, h, hd] -> [3, B, h, T, hd] -> [3, B·h, T, hd]
        SDVariable[] split = sd.unstack(sd.reshape(sd.permute(sd.reshape(qkv, -1, t, 3, h, hd), 2, 0, 3, 1, 4), 3, -1, t, hd), 0, 3);
        SDVariable q = split[0];
        SDVariable k = split[1];
        SDVariable v = split[2];
        if (spec.getPositionalEncoding() == PositionalEncoding.ROPE) {
            q = rotary(q);
            k = rotary(k);
        }
        SDVariable scores = sd.mmul(q, k, false, true, false).mul(1.0 / Math.sqrt(hd)).add(causalMask());
        SDVariable weights = sd.nn.softmax(scores, 2);
        SDVariable context = sd.mmul(weights, v);                      // [B·h, T, hd]
        SDVariable merged = sd.reshape(sd.permute(sd.reshape(context, -1, h, t, hd), 0, 2, 1, 3), -1, d);
        return merged.mmul(p.get(prefix + "attnOutW")).add(p.get(prefix + "attnOutBias"));
    }

    /** Position-wise MLP with the tanh approximation of GELU (as GPT-2). */
    SDVariable mlp(String prefix, SDVariable x, Map<String, SDVariable> p) {
        SDVariable hidden = x.mmul(p.get(prefix + "mlpInW")).add(p.get(prefix + "mlpInBias"));
        return gelu(hidden).mmul(p.get(prefix + "mlpOutW")).add(p.get(prefix + "mlpOutBias"));
    }

    /**
     * GELU, tanh form (GPT-2's), from primitive ops so that SameDiff differentiates exactly what it evaluates.
     * Written as {@code x · σ(2u)} with {@code u = √(2/π)·(x + 0.044715·x³)}, which equals
     * {@code 0.5·x·(1 + tanh u)} exactly and takes 6 operations instead of 9 on the block's largest arrays
     * (ND4J's own {@code gelu} is the sigmoid approximation {@code x·σ(1.702x)}, a different function).
     */
    SDVariable gelu(SDVariable x) {
        double c = 2.0 * Math.sqrt(2.0 / Math.PI);
        SDVariable z = x.mul(x).mul(c * 0.044715).add(c).mul(x);          // 2u = c·x + c·0.044715·x³
        return x.mul(sd.nn.sigmoid(z));
    }

    /** Rotary embedding (rotate-half form) of {@code x [B·h, T, hd]}. */
    private SDVariable rotary(SDVariable x) {
        int half = spec.headWidth() / 2;
        if (ropeCos == null) {
            int t = spec.getContextLength();
            double[][] cos = new double[t][half];
            double[][] sin = new double[t][half];
            for (int pos = 0; pos < t; pos++) {
                for (int i = 0; i < half; i++) {
                    double angle = pos * Math.pow(10000.0, -2.0 * i / spec.headWidth());
                    cos[pos][i] = Math.cos(angle);
                    sin[pos][i] = Math.sin(angle);
                }
            }
            ropeCos = sd.constant("rope_cos", Nd4j.create(cos).castTo(dataType));
            ropeSin = sd.constant("rope_sin", Nd4j.create(sin).castTo(dataType));
        }
        SDVariable[] halves = sd.unstack(sd.reshape(x, -1, spec.getContextLength(), 2, half), 2, 2);
        SDVariable first = halves[0];
        SDVariable second = halves[1];
        return sd.concat(2, first.mul(ropeCos).sub(second.mul(ropeSin)), second.mul(ropeCos).add(first.mul(ropeSin)));
    }

    /** [T, T] additive mask: 0 where key ≤ query, a large negative number above the diagonal. */
    private SDVariable causalMask() {
        if (causalMask == null) {
            int t = spec.getContextLength();
            double[][] mask = new double[t][t];
            for (int i = 0; i < t; i++) {
                for (int j = i + 1; j < t; j++) {
                    mask[i][j] = -1e9;
                }
            }
            causalMask = sd.constant("causal_mask", Nd4j.create(mask).castTo(dataType));
        }
        return causalMask;
    }

    /** Concatenates two row blocks {@code [N, a]} and {@code [N, b]} into {@code [N, a + b]}. */
    SDVariable concatFeatures(SDVariable a, SDVariable b) {
        return sd.concat(1, a, b);
    }
}

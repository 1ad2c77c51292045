package dev.mtpspark.core.model;

import dev.mtpspark.core.config.HeadArchitecture;
import dev.mtpspark.core.config.MtpModelConfig;
import dev.mtpspark.core.config.NormType;
import dev.mtpspark.core.config.PositionalEncoding;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.Map;

/**
 * An independent, plain-Java (double) forward pass of the parallel-head MTP transformer, written from the
 * paper's equations and reading only the model's parameter tables. Used to check the network.
 */
final class ReferenceTransformer {
    private final MtpModelConfig c;
    private final MtpModel model;

    ReferenceTransformer(MtpModel model) {
        this.model = model;
        this.c = model.config();
        if (c.headArchitecture() != HeadArchitecture.PARALLEL) {
            throw new IllegalArgumentException("reference implements parallel heads only");
        }
    }

    /** Logits [n][T][V] for one window x[0..T). */
    double[][][] logits(int[] x) {
        int t = c.contextLength();
        Map<String, INDArray> params = model.graph().getLayer(MtpModel.NETWORK).paramTable();
        double[][] tok = matrix(params.get(ParameterLayout.TOKEN_TABLE));
        double[][] h = new double[t][];
        for (int i = 0; i < t; i++) {
            h[i] = tok[x[i]].clone();
            if (c.positionalEncoding() == PositionalEncoding.LEARNED) {
                double[] pos = matrix(params.get(ParameterLayout.POSITION_TABLE))[i];
                for (int j = 0; j < h[i].length; j++) {
                    h[i][j] += pos[j];
                }
            }
        }
        for (int l = 0; l < c.trunkDepth(); l++) {
            h = block(h, params, ParameterLayout.trunkPrefix(l));
        }
        Map<String, INDArray> head = params;
        double[][] unembed = matrix(head.get(ParameterLayout.UNEMBEDDING));
        double[][][] out = new double[c.predictedTokens()][][];
        for (int k = 1; k <= c.predictedTokens(); k++) {
            double[][] hk = block(h, head, ParameterLayout.headPrefix(k));
            out[k - 1] = matmul(norm(hk, head, ParameterLayout.FINAL_NORM), unembed);
        }
        return out;
    }

    private double[][] block(double[][] x, Map<String, INDArray> p, String prefix) {
        int t = x.length;
        int d = c.modelWidth();
        int heads = c.attentionHeads();
        int hd = d / heads;
        double[][] qkv = addBias(matmul(norm(x, p, prefix + "ln1"), matrix(p.get(prefix + "attnQkvW"))), p.get(prefix + "attnQkvBias"));
        double[][] merged = new double[t][d];
        for (int head = 0; head < heads; head++) {
            double[][] q = new double[t][];
            double[][] k = new double[t][];
            for (int i = 0; i < t; i++) {
                q[i] = rope(slice(qkv[i], head * hd, hd), i);
                k[i] = rope(slice(qkv[i], d + head * hd, hd), i);
            }
            for (int i = 0; i < t; i++) {
                double[] s = new double[i + 1];
                double max = Double.NEGATIVE_INFINITY;
                for (int u = 0; u <= i; u++) {
                    double dot = 0;
                    for (int j = 0; j < hd; j++) {
                        dot += q[i][j] * k[u][j];
                    }
                    s[u] = dot / Math.sqrt(hd);
                    max = Math.max(max, s[u]);
                }
                double z = 0;
                for (int u = 0; u <= i; u++) {
                    s[u] = Math.exp(s[u] - max);
                    z += s[u];
                }
                for (int u = 0; u <= i; u++) {
                    for (int j = 0; j < hd; j++) {
                        merged[i][head * hd + j] += s[u] / z * qkv[u][2 * d + head * hd + j];
                    }
                }
            }
        }
        double[][] attn = addBias(matmul(merged, matrix(p.get(prefix + "attnOutW"))), p.get(prefix + "attnOutBias"));
        double[][] y = add(x, attn);
        double[][] hidden = addBias(matmul(norm(y, p, prefix + "ln2"), matrix(p.get(prefix + "mlpInW"))), p.get(prefix + "mlpInBias"));
        for (double[] row : hidden) {
            for (int j = 0; j < row.length; j++) {
                double v = row[j];
                row[j] = 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v)));
            }
        }
        return add(y, addBias(matmul(hidden, matrix(p.get(prefix + "mlpOutW"))), p.get(prefix + "mlpOutBias")));
    }

    private double[] rope(double[] v, int pos) {
        if (c.positionalEncoding() != PositionalEncoding.ROPE) {
            return v;
        }
        int half = v.length / 2;
        double[] r = new double[v.length];
        for (int j = 0; j < half; j++) {
            double angle = pos * Math.pow(10000.0, -2.0 * j / v.length);
            r[j] = v[j] * Math.cos(angle) - v[j + half] * Math.sin(angle);
            r[j + half] = v[j + half] * Math.cos(angle) + v[j] * Math.sin(angle);
        }
        return r;
    }

    private double[][] norm(double[][] x, Map<String, INDArray> p, String name) {
        double[] g = p.get(name + "Gain").toDoubleVector();
        double[] b = c.normType() == NormType.LAYER_NORM ? p.get(name + "Bias").toDoubleVector() : null;
        double[][] out = new double[x.length][];
        for (int i = 0; i < x.length; i++) {
            int d = x[i].length;
            double mean = 0;
            if (b != null) {
                for (double v : x[i]) {
                    mean += v / d;
                }
            }
            double sq = 0;
            for (double v : x[i]) {
                sq += (v - mean) * (v - mean) / d;
            }
            double inv = 1 / Math.sqrt(sq + c.normEpsilon());
            out[i] = new double[d];
            for (int j = 0; j < d; j++) {
                out[i][j] = (x[i][j] - mean) * inv * g[j] + (b == null ? 0 : b[j]);
            }
        }
        return out;
    }

    static double[][] matrix(INDArray a) {
        return a.castTo(org.nd4j.linalg.api.buffer.DataType.DOUBLE).toDoubleMatrix();
    }

    private static double[] slice(double[] v, int from, int len) {
        double[] r = new double[len];
        System.arraycopy(v, from, r, 0, len);
        return r;
    }

    private static double[][] matmul(double[][] a, double[][] b) {
        double[][] r = new double[a.length][b[0].length];
        for (int i = 0; i < a.length; i++) {
            for (int k = 0; k < b.length; k++) {
                double av = a[i][k];
                for (int j = 0; j < b[0].length; j++) {
                    r[i][j] += av * b[k][j];
                }
            }
        }
        return r;
    }

    private static double[][] addBias(double[][] a, INDArray bias) {
        double[] b = bias.toDoubleVector();
        for (double[] row : a) {
            for (int j = 0; j < row.length; j++) {
                row[j] += b[j];
            }
        }
        return a;
    }

    private static double[][] add(double[][] a, double[][] b) {
        double[][] r = new double[a.length][a[0].length];
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < a[0].length; j++) {
                r[i][j] = a[i][j] + b[i][j];
            }
        }
        return r;
    }

    /** Cross-entropy −log softmax(logits)[label] in plain Java. */
    static double crossEntropy(double[] logits, int label) {
        double max = Double.NEGATIVE_INFINITY;
        for (double v : logits) {
            max = Math.max(max, v);
        }
        double z = 0;
        for (double v : logits) {
            z += Math.exp(v - max);
        }
        return Math.log(z) + max - logits[label];
    }
}

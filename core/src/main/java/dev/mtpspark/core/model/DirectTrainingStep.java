package dev.mtpspark.core.model;

import dev.mtpspark.core.config.HeadArchitecture;
import dev.mtpspark.core.config.NormType;
import dev.mtpspark.core.config.PositionalEncoding;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.transforms.custom.LogSoftMax;
import org.nd4j.linalg.api.ops.impl.transforms.custom.SoftMax;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The forward and backward pass of one training step of the whole network, written out by hand: OpenBLAS matrix
 * products ({@link DenseMatrix#gemm}) and Java loops for the element-wise parts, instead of a SameDiff graph of
 * ~620 operations that each cost ~80 µs of fixed overhead at the recipe shapes (docs/performance.md,
 * improvement 8). It computes the same function as {@link MtpNetworkLayer#defineLayer}: the same loss and the
 * same gradients, checked against the SameDiff graph in double precision ({@code DirectTrainingStepTest}).
 *
 * <p>Covers the parallel head architecture with learned positions, LayerNorm or RMSNorm, and dropout; the other
 * configurations train through SameDiff ({@link #supports}). The heads are processed one at a time (forward,
 * loss, backward, then the next head reuses the same buffers), so the logits of only one head exist at once —
 * the paper's memory-efficient order, at no cost in speed.
 *
 * <p>One instance per thread: it owns every activation buffer, sized for the rows of its last batch and reused
 * while that size stays the same.
 */
final class DirectTrainingStep {
    private static final double GELU_C = 2.0 * Math.sqrt(2.0 / Math.PI);
    private static final double GELU_CUBIC = GELU_C * 0.044715;

    private final MtpNetworkLayer conf;
    private final DataType dataType;
    private final int d;
    private final int m;
    private final int heads;
    private final int headWidth;
    private final int context;
    private final int vocab;
    private final int horizons;
    private final int depth;
    private final boolean layerNorm;
    private final double eps;

    private int rows = -1;
    private BlockCache[] trunk;
    private BlockCache head;
    private DenseMatrix embedded;
    private DenseMatrix ones;
    private DenseMatrix embeddedGradient;
    private DenseMatrix headInput;
    private DenseMatrix labels;
    private DenseMatrix[] masks;
    private DenseMatrix finalHat;
    private DenseMatrix finalRstd;
    private DenseMatrix normed;
    private DenseMatrix logits;
    private DenseMatrix gradA;
    private DenseMatrix gradB;
    private DenseMatrix gradTrunk;
    private DenseMatrix gradY;
    private DenseMatrix gradHidden;
    private DenseMatrix gradMlp;
    private DenseMatrix gradSmall;
    private DenseMatrix gradQkv;
    private DenseMatrix gradScores;

    DirectTrainingStep(MtpNetworkLayer conf, DataType dataType) {
        this.conf = conf;
        this.dataType = dataType;
        BlockSpec spec = conf.getSpec();
        d = spec.getModelWidth();
        m = spec.getMlpWidth();
        heads = spec.getAttentionHeads();
        headWidth = spec.headWidth();
        context = spec.getContextLength();
        vocab = conf.getVocabSize();
        horizons = conf.getPredictedTokens();
        depth = conf.getTrunkDepth();
        layerNorm = spec.getNormType() == NormType.LAYER_NORM;
        eps = spec.getNormEpsilon();
        chunks = new Chunks(Math.max(d, context));
    }

    /**
     * Whether this path trains {@code conf} in {@code dataType} on this backend: the parallel head architecture
     * with learned positions, FLOAT or DOUBLE, on the CPU backend, unless {@link MtpModel#STEP_KERNEL_PROPERTY} is
     * {@code samediff}.
     */
    static boolean supports(MtpNetworkLayer conf, DataType dataType, boolean cpuBackend) {
        return cpuBackend && !"samediff".equalsIgnoreCase(System.getProperty(MtpModel.STEP_KERNEL_PROPERTY, ""))
                && conf.getHeadArchitecture() == HeadArchitecture.PARALLEL
                && conf.getSpec().getPositionalEncoding() == PositionalEncoding.LEARNED
                && (dataType == DataType.FLOAT || dataType == DataType.DOUBLE);
    }

    /**
     * Forward and backward on one (shard of a) batch: writes every non-embedding parameter's gradient into
     * {@code gradients}, hands the gradient of the embedded rows to {@code rowGradient}, and returns the loss
     * (the sum over windows of the weighted per-window loss, as the SameDiff graph's loss variable).
     *
     * @param params        the layer's parameters by name
     * @param embeddedRows  the embedded rows {@code [R, d]}, R = windows · T
     * @param dropoutMasks  the masks of {@link MtpNetworkLayer#dropoutPoints()} by placeholder name, {@code [R, d]}
     * @param labelIds      the labels {@code [windows, n, T]}
     */
    double run(Map<String, INDArray> params, INDArray embeddedRows, Map<String, INDArray> dropoutMasks,
               INDArray labelIds, Map<String, INDArray> gradients, Consumer<INDArray> rowGradient) {
        ensureCapacity((int) embeddedRows.size(0));
        embedded.copyFrom(embeddedRows);
        labels.copyFrom(labelIds);
        for (int i = 0; i < masks.length; i++) {
            masks[i].copyFrom(dropoutMasks.get(MtpNetworkLayer.dropoutName(i)));
        }
        List<Runnable> copyBacks = new ArrayList<>();
        BlockParams[] trunkParams = new BlockParams[depth];
        BlockParams[] trunkGrads = new BlockParams[depth];
        for (int i = 0; i < depth; i++) {
            trunkParams[i] = BlockParams.of(params, MtpNetworkLayer.trunkPrefix(i), layerNorm, null);
            trunkGrads[i] = BlockParams.of(gradients, MtpNetworkLayer.trunkPrefix(i), layerNorm, copyBacks);
        }
        NormParams finalNorm = NormParams.of(params, MtpNetworkLayer.FINAL_NORM, layerNorm, null);
        NormParams finalNormGrad = NormParams.of(gradients, MtpNetworkLayer.FINAL_NORM, layerNorm, copyBacks);
        DenseMatrix unembed = parameter(params, MtpNetworkLayer.UNEMBEDDING, null);
        DenseMatrix unembedGrad = parameter(gradients, MtpNetworkLayer.UNEMBEDDING, copyBacks);
        int blockElements = rows * d;

        // Trunk forward: block i reads the previous output times dropout mask i.
        DenseMatrix x = embedded;
        for (int i = 0; i < depth; i++) {
            blockForward(trunkParams[i], trunk[i], x, mask(i));
            x = trunk[i].out;
        }
        multiplyInto(x, mask(depth), headInput, blockElements);

        // Heads one at a time: forward, loss, backward to the heads' input, accumulated in gradTrunk.
        double[] weights = conf.getLossWeights();
        double loss = 0;
        for (int k = 1; k <= horizons; k++) {
            BlockParams headParams = BlockParams.of(params, MtpNetworkLayer.headPrefix(k), layerNorm, null);
            BlockParams headGrads = BlockParams.of(gradients, MtpNetworkLayer.headPrefix(k), layerNorm, copyBacks);
            blockForward(headParams, head, headInput, null);
            normForward(head.out, finalNorm, finalHat, finalRstd, normed);
            DenseMatrix.gemm(false, false, rows, vocab, d, 1, normed, 0, d, unembed, 0, vocab, 0, logits, 0, vocab);
            loss += crossEntropy(k, weights[k - 1]);
            DenseMatrix.gemm(true, false, d, vocab, rows, 1, normed, 0, d, logits, 0, vocab, 1, unembedGrad, 0, vocab);
            DenseMatrix.gemm(false, true, rows, d, vocab, 1, logits, 0, vocab, unembed, 0, vocab, 0, gradA, 0, d);
            normBackward(gradA, finalHat, finalRstd, finalNorm, finalNormGrad, gradHidden, false);
            blockBackward(headParams, headGrads, head, gradHidden, k == 1 ? gradTrunk : gradB);
            if (k > 1) {
                for (int i = 0; i < blockElements; i++) {
                    gradTrunk.add(i, gradB.get(i));
                }
            }
        }

        // Trunk backward, from the heads' input to the embedded rows.
        DenseMatrix upstream = gradA;
        multiplyInto(gradTrunk, mask(depth), upstream, blockElements);
        for (int i = depth - 1; i >= 0; i--) {
            DenseMatrix below = i == 0 ? embeddedGradient : upstream == gradA ? gradB : gradA;
            blockBackward(trunkParams[i], trunkGrads[i], trunk[i], upstream, below);
            multiplyInto(below, mask(i), below, blockElements);
            upstream = below;
        }
        if (depth == 0) {
            multiplyInto(upstream, null, embeddedGradient, blockElements);
        }
        copyBacks.forEach(Runnable::run);
        rowGradient.accept(embeddedGradient.array().reshape(rows, d));
        return loss;
    }

    private DenseMatrix mask(int point) {
        return point < masks.length ? masks[point] : null;
    }

    private static void multiplyInto(DenseMatrix x, DenseMatrix mask, DenseMatrix out, int count) {
        if (mask == null) {
            if (x != out) {
                x.copyTo(out, count);
            }
            return;
        }
        for (int i = 0; i < count; i++) {
            out.set(i, x.get(i) * mask.get(i));
        }
    }

    // ------------------------------------------------------------------ one block

    private void blockForward(BlockParams p, BlockCache c, DenseMatrix input, DenseMatrix mask) {
        multiplyInto(input, mask, c.in, rows * d);
        normForward(c.in, p.norm1, c.hat1, c.rstd1, c.normed1);
        affine(c.normed1, d, p.qkvWeight, 3 * d, p.qkvBias, null, c.qkv);
        attentionForward(c);
        affine(c.attended, d, p.outWeight, d, p.outBias, c.in, c.mid);
        normForward(c.mid, p.norm2, c.hat2, c.rstd2, c.normed2);
        affine(c.normed2, d, p.mlpInWeight, m, p.mlpInBias, null, c.hidden);
        geluForward(c.hidden, c.sigmoid, c.activated, rows * m);
        affine(c.activated, m, p.mlpOutWeight, d, p.mlpOutBias, c.mid, c.out);
    }

    /**
     * GELU (tanh form) {@code g = u·σ(2·√(2/π)·(u + 0.044715·u³))}, keeping σ for the backward pass. The
     * exponentials go through ND4J's vectorised sigmoid, a third of the time of {@code Math.exp} in a Java loop. The
     * polynomial runs over heap chunks ({@link DenseMatrix#read}): in a training step it took 1.1 ms per 196,608
     * elements with one buffer access per element and 0.3 ms in chunks; the final product is as fast either way.
     */
    private void geluForward(DenseMatrix hidden, DenseMatrix sigmoid, DenseMatrix activated, int count) {
        double[] u = chunks.first;
        double[] z = chunks.second;
        for (int from = 0; from < count; from += chunks.size) {
            int n = Math.min(chunks.size, count - from);
            hidden.read(from, u, n, chunks.floats);
            for (int i = 0; i < n; i++) {
                double x = u[i];
                z[i] = GELU_C * x + GELU_CUBIC * x * x * x;
            }
            sigmoid.write(from, z, n, chunks.floats);
        }
        Transforms.sigmoid(sigmoid.array(), false);
        for (int i = 0; i < count; i++) {
            activated.set(i, hidden.get(i) * sigmoid.get(i));
        }
    }

    /** Multiplies {@code grad} (dL/dg) by the GELU's derivative at {@code hidden}, given the forward pass's σ. */
    private void geluBackward(DenseMatrix hidden, DenseMatrix sigmoid, DenseMatrix grad, int count) {
        double[] u = chunks.first;
        double[] sig = chunks.second;
        double[] g = chunks.third;
        for (int from = 0; from < count; from += chunks.size) {
            int n = Math.min(chunks.size, count - from);
            hidden.read(from, u, n, chunks.floats);
            sigmoid.read(from, sig, n, chunks.floats);
            grad.read(from, g, n, chunks.floats);
            for (int i = 0; i < n; i++) {
                double x = u[i];
                double s = sig[i];
                g[i] *= s + x * s * (1 - s) * (GELU_C + 3 * GELU_CUBIC * x * x);
            }
            grad.write(from, g, n, chunks.floats);
        }
    }

    /** Heap scratch arrays for the element-wise loops ({@link DenseMatrix#read}): rows of a norm, chunks of the GELU. */
    private static final class Chunks {
        final int size;
        final double[] first;
        final double[] second;
        final double[] third;
        final double[] gain;
        final double[] bias;
        final double[] gainGrad;
        final double[] biasGrad;
        final float[] floats;

        /** @param width the longest row a loop reads at once: the model width or the context length */
        Chunks(int width) {
            size = Math.max(4096, width);
            first = new double[size];
            second = new double[size];
            third = new double[size];
            gain = new double[width];
            bias = new double[width];
            gainGrad = new double[width];
            biasGrad = new double[width];
            floats = new float[size];
        }
    }

    private final Chunks chunks;

    /** Gradient of block {@code c} from {@code gradOut} (its output's gradient) to {@code gradIn} (its input's); accumulates parameter gradients. */
    private void blockBackward(BlockParams p, BlockParams g, BlockCache c, DenseMatrix gradOut, DenseMatrix gradIn) {
        // MLP: out = mid + gelu(normed2·W1 + b1)·W2 + b2
        affineBackward(c.activated, m, p.mlpOutWeight, d, g.mlpOutWeight, g.mlpOutBias, gradOut, gradMlp);
        geluBackward(c.hidden, c.sigmoid, gradMlp, rows * m);
        affineBackward(c.normed2, d, p.mlpInWeight, m, g.mlpInWeight, g.mlpInBias, gradMlp, gradSmall);
        gradOut.copyTo(gradY, rows * d);
        normBackward(gradSmall, c.hat2, c.rstd2, p.norm2, g.norm2, gradY, true);
        // Attention: mid = in + attn(normed1)·Wo + bo
        affineBackward(c.attended, d, p.outWeight, d, g.outWeight, g.outBias, gradY, gradSmall);
        attentionBackward(c, gradSmall);
        affineBackward(c.normed1, d, p.qkvWeight, 3 * d, g.qkvWeight, g.qkvBias, gradQkv, gradSmall);
        gradY.copyTo(gradIn, rows * d);
        normBackward(gradSmall, c.hat1, c.rstd1, p.norm1, g.norm1, gradIn, true);
    }

    /** {@code out = (residual or 0) + x·W + bias}; x is {@code [rows, in]}, W {@code [in, width]}. */
    private void affine(DenseMatrix x, int in, DenseMatrix weight, int width, DenseMatrix bias, DenseMatrix residual, DenseMatrix out) {
        if (residual != null) {
            residual.copyTo(out, rows * width);
        }
        // The bias broadcast over the rows as a rank-1 product (ones · bias), then the product itself.
        DenseMatrix.gemm(false, false, rows, width, 1, 1, ones, 0, 1, bias, 0, width, residual == null ? 0 : 1, out, 0, width);
        DenseMatrix.gemm(false, false, rows, width, in, 1, x, 0, in, weight, 0, width, 1, out, 0, width);
    }

    /**
     * Back through {@code y = x·W + bias}: accumulates {@code dW += xᵀ·dy} and {@code dbias += Σ_rows dy}, and
     * writes {@code dx = dy·Wᵀ}.
     */
    private void affineBackward(DenseMatrix x, int in, DenseMatrix weight, int width, DenseMatrix weightGrad,
                                DenseMatrix biasGrad, DenseMatrix gradY, DenseMatrix gradX) {
        DenseMatrix.addColumnSums(gradY, rows, width, ones, biasGrad);
        DenseMatrix.gemm(true, false, in, width, rows, 1, x, 0, in, gradY, 0, width, 1, weightGrad, 0, width);
        DenseMatrix.gemm(false, true, rows, in, width, 1, gradY, 0, width, weight, 0, width, 0, gradX, 0, in);
    }

    // ------------------------------------------------------------------ norms

    private void normForward(DenseMatrix x, NormParams p, DenseMatrix hat, DenseMatrix rstd, DenseMatrix out) {
        double[] xs = chunks.first;
        double[] hs = chunks.second;
        double[] os = chunks.third;
        double[] gain = chunks.gain;
        double[] bias = chunks.bias;
        float[] scratch = chunks.floats;
        p.gain.read(0, gain, d, scratch);
        if (layerNorm) {
            p.bias.read(0, bias, d, scratch);
        }
        for (int r = 0; r < rows; r++) {
            int base = r * d;
            x.read(base, xs, d, scratch);
            double mean = 0;
            if (layerNorm) {
                for (int j = 0; j < d; j++) {
                    mean += xs[j];
                }
                mean /= d;
            }
            double square = 0;
            for (int j = 0; j < d; j++) {
                double c = xs[j] - mean;
                square += c * c;
            }
            double inv = 1.0 / Math.sqrt(square / d + eps);
            rstd.set(r, inv);
            for (int j = 0; j < d; j++) {
                double h = (xs[j] - mean) * inv;
                hs[j] = h;
                os[j] = layerNorm ? h * gain[j] + bias[j] : h * gain[j];
            }
            hat.write(base, hs, d, scratch);
            out.write(base, os, d, scratch);
        }
    }

    /** Back through a norm: accumulates the gain (and bias) gradients; writes or ({@code accumulate}) adds dx. */
    private void normBackward(DenseMatrix gradOut, DenseMatrix hat, DenseMatrix rstd, NormParams p, NormParams g,
                              DenseMatrix gradX, boolean accumulate) {
        double[] dy = chunks.first;
        double[] hs = chunks.second;
        double[] dx = chunks.third;
        double[] gain = chunks.gain;
        double[] gainGrad = chunks.gainGrad;
        double[] biasGrad = chunks.biasGrad;
        float[] scratch = chunks.floats;
        p.gain.read(0, gain, d, scratch);
        java.util.Arrays.fill(gainGrad, 0, d, 0.0);
        java.util.Arrays.fill(biasGrad, 0, d, 0.0);
        for (int r = 0; r < rows; r++) {
            int base = r * d;
            gradOut.read(base, dy, d, scratch);
            hat.read(base, hs, d, scratch);
            double sum = 0;
            double dot = 0;
            for (int j = 0; j < d; j++) {
                gainGrad[j] += dy[j] * hs[j];
                biasGrad[j] += dy[j];
                double dh = dy[j] * gain[j];
                sum += dh;
                dot += dh * hs[j];
            }
            double meanGrad = layerNorm ? sum / d : 0;
            double meanDot = dot / d;
            double inv = rstd.get(r);
            if (accumulate) {
                gradX.read(base, dx, d, scratch);
            }
            for (int j = 0; j < d; j++) {
                double grad = inv * (dy[j] * gain[j] - meanGrad - hs[j] * meanDot);
                dx[j] = accumulate ? dx[j] + grad : grad;
            }
            gradX.write(base, dx, d, scratch);
        }
        for (int j = 0; j < d; j++) {
            g.gain.add(j, gainGrad[j]);
            if (layerNorm) {
                g.bias.add(j, biasGrad[j]);
            }
        }
    }

    // ------------------------------------------------------------------ attention

    /** Causal attention of every window and head; the QKV columns are {@code [3, h, hd]} as the SameDiff graph's reshape. */
    private void attentionForward(BlockCache c) {
        double scale = 1.0 / Math.sqrt(headWidth);
        double[] masked = chunks.third;
        java.util.Arrays.fill(masked, 0, context, Double.NEGATIVE_INFINITY);
        int t = context;
        int qkvWidth = 3 * d;
        for (int w = 0; w < rows / t; w++) {
            for (int j = 0; j < heads; j++) {
                int q = w * t * qkvWidth + j * headWidth;
                int p = (w * heads + j) * t * t;
                DenseMatrix.gemm(false, true, t, t, headWidth, scale, c.qkv, q, qkvWidth, c.qkv, q + d, qkvWidth, 0, c.probs, p, t);
                for (int i = 0; i + 1 < t; i++) {
                    c.probs.write(p + i * t + i + 1, masked, t - i - 1, chunks.floats);  // causal: weight exactly 0
                }
            }
        }
        // Every window's and head's rows in one vectorised softmax.
        INDArray scores = c.probs.asMatrix((long) rows * heads, t);
        Nd4j.exec(new SoftMax(scores, scores, 1));
        for (int w = 0; w < rows / t; w++) {
            for (int j = 0; j < heads; j++) {
                int q = w * t * qkvWidth + j * headWidth;
                int p = (w * heads + j) * t * t;
                DenseMatrix.gemm(false, false, t, headWidth, t, 1, c.probs, p, t, c.qkv, q + 2 * d, qkvWidth, 0,
                        c.attended, w * t * d + j * headWidth, d);
            }
        }
    }

    /** From the gradient of the merged attention context to {@code gradQkv}. */
    private void attentionBackward(BlockCache c, DenseMatrix gradContext) {
        double scale = 1.0 / Math.sqrt(headWidth);
        int t = context;
        int qkvWidth = 3 * d;
        for (int w = 0; w < rows / t; w++) {
            for (int j = 0; j < heads; j++) {
                int q = w * t * qkvWidth + j * headWidth;
                int p = (w * heads + j) * t * t;
                int ctx = w * t * d + j * headWidth;
                DenseMatrix.gemm(false, true, t, t, headWidth, 1, gradContext, ctx, d, c.qkv, q + 2 * d, qkvWidth, 0, gradScores, 0, t);
                DenseMatrix.gemm(true, false, t, headWidth, t, 1, c.probs, p, t, gradContext, ctx, d, 0, gradQkv, q + 2 * d, qkvWidth);
                double[] probs = chunks.first;
                double[] grads = chunks.second;
                for (int i = 0; i < t; i++) {
                    int row = i * t;
                    c.probs.read(p + row, probs, t, chunks.floats);
                    gradScores.read(row, grads, t, chunks.floats);
                    double dot = 0;
                    for (int k = 0; k <= i; k++) {
                        dot += probs[k] * grads[k];
                    }
                    for (int k = 0; k <= i; k++) {
                        grads[k] = probs[k] * (grads[k] - dot) * scale;
                    }
                    for (int k = i + 1; k < t; k++) {
                        grads[k] = 0.0;
                    }
                    gradScores.write(row, grads, t, chunks.floats);
                }
                DenseMatrix.gemm(false, false, t, headWidth, t, 1, gradScores, 0, t, c.qkv, q + d, qkvWidth, 0, gradQkv, q, qkvWidth);
                DenseMatrix.gemm(true, false, t, headWidth, t, 1, gradScores, 0, t, c.qkv, q, qkvWidth, 0, gradQkv, q + d, qkvWidth);
            }
        }
    }

    // ------------------------------------------------------------------ loss

    /**
     * Horizon k's weighted loss {@code −w/T · Σ log p(label)} over the rows; replaces the logits by the loss's
     * gradient with respect to them, {@code w/T · (softmax − onehot)}.
     */
    private double crossEntropy(int k, double weight) {
        double coefficient = weight / context;
        INDArray all = logits.asMatrix(rows, vocab);
        Nd4j.exec(new LogSoftMax(all, all));                  // vectorised; at V = 32,000 most of the step's exponentials
        double logLikelihood = 0;
        for (int r = 0; r < rows; r++) {
            logLikelihood += logits.get(r * vocab + label(r, k));
        }
        Transforms.exp(all, false).muli(coefficient);
        for (int r = 0; r < rows; r++) {
            logits.add(r * vocab + label(r, k), -coefficient);
        }
        return -coefficient * logLikelihood;
    }

    /** The label of row r (window · T + position) for horizon k. */
    private int label(int r, int k) {
        return (int) labels.get(((r / context) * horizons + k - 1) * context + r % context);
    }

    // ------------------------------------------------------------------ buffers and parameters

    private void ensureCapacity(int newRows) {
        if (newRows == rows) {
            return;
        }
        rows = newRows;
        trunk = new BlockCache[depth];
        for (int i = 0; i < depth; i++) {
            trunk[i] = new BlockCache();
        }
        head = new BlockCache();
        long rd = (long) rows * d;
        embedded = matrix(rd);
        ones = matrix(rows);
        ones.fill(1.0);
        embeddedGradient = matrix(rd);
        headInput = matrix(rd);
        labels = matrix((long) rows * horizons);
        masks = new DenseMatrix[conf.dropoutPoints()];
        for (int i = 0; i < masks.length; i++) {
            masks[i] = matrix(rd);
        }
        finalHat = matrix(rd);
        finalRstd = matrix(rows);
        normed = matrix(rd);
        logits = matrix((long) rows * vocab);
        gradA = matrix(rd);
        gradB = matrix(rd);
        gradTrunk = matrix(rd);
        gradY = matrix(rd);
        gradHidden = matrix(rd);
        gradSmall = matrix(rd);
        gradMlp = matrix((long) rows * m);
        gradQkv = matrix(3 * rd);
        gradScores = matrix((long) context * context);
    }

    private DenseMatrix matrix(long length) {
        return DenseMatrix.allocate(dataType, length);
    }

    /** The activations one block keeps from its forward pass for its backward pass. */
    private final class BlockCache {
        final DenseMatrix in = matrix((long) rows * d);
        final DenseMatrix hat1 = matrix((long) rows * d);
        final DenseMatrix rstd1 = matrix(rows);
        final DenseMatrix normed1 = matrix((long) rows * d);
        final DenseMatrix qkv = matrix(3L * rows * d);
        final DenseMatrix probs = matrix((long) rows * heads * context);
        final DenseMatrix attended = matrix((long) rows * d);
        final DenseMatrix mid = matrix((long) rows * d);
        final DenseMatrix hat2 = matrix((long) rows * d);
        final DenseMatrix rstd2 = matrix(rows);
        final DenseMatrix normed2 = matrix((long) rows * d);
        final DenseMatrix hidden = matrix((long) rows * m);
        final DenseMatrix sigmoid = matrix((long) rows * m);
        final DenseMatrix activated = matrix((long) rows * m);
        final DenseMatrix out = matrix((long) rows * d);
    }

    /**
     * A parameter (or gradient) array as a {@link DenseMatrix}: a view when its layout allows, else a copy. For a
     * gradient ({@code copyBacks} not null) the matrix starts at zero and a copy is written back at the end.
     */
    private static DenseMatrix parameter(Map<String, INDArray> arrays, String name, List<Runnable> copyBacks) {
        INDArray array = arrays.get(name);
        if (array == null) {
            throw new IllegalStateException("the MTP layer has no parameter " + name);
        }
        DenseMatrix view = DenseMatrix.viewOf(array);
        DenseMatrix matrix = view != null ? view : DenseMatrix.allocate(array.dataType(), array.length());
        if (copyBacks == null) {
            if (view == null) {
                matrix.copyFrom(array);
            }
        } else {
            matrix.zero();
            if (view == null) {
                copyBacks.add(() -> array.assign(matrix.array().reshape(array.shape())));
            }
        }
        return matrix;
    }

    /** A norm's gain and (LayerNorm) bias. */
    private record NormParams(DenseMatrix gain, DenseMatrix bias) {
        static NormParams of(Map<String, INDArray> arrays, String name, boolean layerNorm, List<Runnable> copyBacks) {
            return new NormParams(parameter(arrays, name + "Gain", copyBacks),
                    layerNorm ? parameter(arrays, name + "Bias", copyBacks) : null);
        }
    }

    /** One block's parameters (or their gradients), named as {@link TransformerOps#defineBlockParams}. */
    private record BlockParams(NormParams norm1, DenseMatrix qkvWeight, DenseMatrix qkvBias, DenseMatrix outWeight,
                               DenseMatrix outBias, NormParams norm2, DenseMatrix mlpInWeight, DenseMatrix mlpInBias,
                               DenseMatrix mlpOutWeight, DenseMatrix mlpOutBias) {
        static BlockParams of(Map<String, INDArray> arrays, String prefix, boolean layerNorm, List<Runnable> copyBacks) {
            return new BlockParams(NormParams.of(arrays, prefix + "ln1", layerNorm, copyBacks),
                    parameter(arrays, prefix + "attnQkvW", copyBacks), parameter(arrays, prefix + "attnQkvBias", copyBacks),
                    parameter(arrays, prefix + "attnOutW", copyBacks), parameter(arrays, prefix + "attnOutBias", copyBacks),
                    NormParams.of(arrays, prefix + "ln2", layerNorm, copyBacks),
                    parameter(arrays, prefix + "mlpInW", copyBacks), parameter(arrays, prefix + "mlpInBias", copyBacks),
                    parameter(arrays, prefix + "mlpOutW", copyBacks), parameter(arrays, prefix + "mlpOutBias", copyBacks));
        }
    }
}

package dev.mtpspark.core.model;

import dev.mtpspark.core.config.HeadArchitecture;
import dev.mtpspark.core.kernels.DenseMatrix;
import org.deeplearning4j.nn.conf.layers.samediff.SDLayerParams;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The one place that knows the network's parameter names: it declares them to DL4J (which lays them out in one
 * flat vector, in this order, the layout of every checkpoint), binds DL4J's arrays to the typed {@link Weights},
 * initialises them and counts them per part. Names: {@code tokW}, {@code posW}, {@code t<i>…} (trunk block i),
 * {@code h<k>…} (head k), {@code finalNorm…}, {@code unembedW}; none contains '_', which DL4J uses as separator.
 */
final class ParameterLayout {
    static final String TOKEN_TABLE = "tokW";
    static final String POSITION_TABLE = "posW";
    static final String FINAL_NORM = "finalNorm";
    static final String UNEMBEDDING = "unembedW";

    private final NetworkShape shape;

    ParameterLayout(NetworkShape shape) {
        this.shape = shape;
    }

    static String trunkPrefix(int i) {
        return "t" + i;
    }

    static String headPrefix(int k) {
        return "h" + k;
    }

    /** Declares every parameter, in the order of the flat parameter vector. */
    void define(SDLayerParams params) {
        int d = shape.width();
        params.addWeightParam(TOKEN_TABLE, shape.vocab(), d);
        if (!shape.rotary()) {
            params.addWeightParam(POSITION_TABLE, shape.context(), d);
        }
        for (int i = 0; i < shape.depth(); i++) {
            defineBlock(params, trunkPrefix(i));
        }
        for (int k = 1; k <= shape.horizons(); k++) {
            String prefix = headPrefix(k);
            switch (shape.architecture()) {
                case PARALLEL -> defineBlock(params, prefix);
                case LINEAR -> {
                    params.addWeightParam(prefix + "linW", d, d);
                    params.addBiasParam(prefix + "linBias", 1, d);
                }
                case SEQUENTIAL -> {
                    if (k >= 2) {
                        defineNorm(params, prefix + "hnorm");
                        defineNorm(params, prefix + "enorm");
                        params.addWeightParam(prefix + "projW", 2L * d, d);
                        defineBlock(params, prefix);
                    }
                }
            }
        }
        defineNorm(params, FINAL_NORM);
        params.addWeightParam(UNEMBEDDING, d, shape.vocab());
    }

    private void defineNorm(SDLayerParams params, String name) {
        params.addBiasParam(name + "Gain", 1, shape.width());
        if (shape.layerNorm()) {
            params.addBiasParam(name + "Bias", 1, shape.width());
        }
    }

    private void defineBlock(SDLayerParams params, String prefix) {
        long d = shape.width();
        long m = shape.mlpWidth();
        defineNorm(params, prefix + "ln1");
        params.addWeightParam(prefix + "attnQkvW", d, 3 * d);
        params.addBiasParam(prefix + "attnQkvBias", 1, 3 * d);
        params.addWeightParam(prefix + "attnOutW", d, d);
        params.addBiasParam(prefix + "attnOutBias", 1, d);
        defineNorm(params, prefix + "ln2");
        params.addWeightParam(prefix + "mlpInW", d, m);
        params.addBiasParam(prefix + "mlpInBias", 1, m);
        params.addWeightParam(prefix + "mlpOutW", m, d);
        params.addBiasParam(prefix + "mlpOutBias", 1, d);
    }

    /**
     * Typed views of DL4J's arrays. For gradients pass {@code copyBacks}: every matrix starts at zero, and a matrix
     * that had to be a copy (an array not contiguous in row-major order) is written back by the runnables added.
     */
    Weights.Model bind(Map<String, INDArray> arrays, List<Runnable> copyBacks) {
        Binder b = new Binder(arrays, copyBacks);
        Weights.Block[] trunk = new Weights.Block[shape.depth()];
        for (int i = 0; i < trunk.length; i++) {
            trunk[i] = b.block(trunkPrefix(i));
        }
        Weights.Head[] heads = new Weights.Head[shape.horizons()];
        for (int k = 1; k <= heads.length; k++) {
            String p = headPrefix(k);
            heads[k - 1] = switch (shape.architecture()) {
                case PARALLEL -> new Weights.ParallelHead(b.block(p));
                case LINEAR -> new Weights.LinearHead(b.matrix(p + "linW"), b.matrix(p + "linBias"));
                case SEQUENTIAL -> k == 1 ? null
                        : new Weights.SequentialHead(b.norm(p + "hnorm"), b.norm(p + "enorm"), b.matrix(p + "projW"), b.block(p));
            };
        }
        return new Weights.Model(b.matrix(TOKEN_TABLE), shape.rotary() ? null : b.matrix(POSITION_TABLE), trunk, heads,
                b.norm(FINAL_NORM), b.matrix(UNEMBEDDING));
    }

    private final class Binder {
        private final Map<String, INDArray> arrays;
        private final List<Runnable> copyBacks;

        Binder(Map<String, INDArray> arrays, List<Runnable> copyBacks) {
            this.arrays = arrays;
            this.copyBacks = copyBacks;
        }

        DenseMatrix matrix(String name) {
            INDArray array = arrays.get(name);
            if (array == null) {
                throw new IllegalStateException("the MTP network has no parameter " + name);
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

        Weights.Norm norm(String name) {
            return new Weights.Norm(matrix(name + "Gain"), shape.layerNorm() ? matrix(name + "Bias") : null);
        }

        Weights.Block block(String p) {
            return new Weights.Block(norm(p + "ln1"), matrix(p + "attnQkvW"), matrix(p + "attnQkvBias"),
                    matrix(p + "attnOutW"), matrix(p + "attnOutBias"), norm(p + "ln2"),
                    matrix(p + "mlpInW"), matrix(p + "mlpInBias"), matrix(p + "mlpOutW"), matrix(p + "mlpOutBias"));
        }
    }

    /**
     * Initialises every parameter by its name: norm gains 1, biases 0, residual output projections
     * N(0, σ/√(2·blocks)) (GPT-2), every other matrix N(0, σ). Each parameter draws from its own stream seeded by the
     * model seed, the layer and the parameter name, so the result does not depend on DL4J's order.
     */
    void initialise(Map<String, INDArray> params, String layerName) {
        for (Map.Entry<String, INDArray> e : params.entrySet()) {
            String name = e.getKey();
            INDArray array = e.getValue();
            if (name.endsWith("Gain")) {
                array.assign(1.0);
            } else if (name.endsWith("Bias")) {
                array.assign(0.0);
            } else {
                double std = shape.initStd();
                if (name.endsWith("attnOutW") || name.endsWith("mlpOutW")) {
                    std /= Math.sqrt(2.0 * shape.residualBlocks());
                }
                SplittableRandom random = new SplittableRandom(shape.seed() * 31 + (layerName + "/" + name).hashCode());
                double[] values = new double[(int) array.length()];
                for (int i = 0; i < values.length; i++) {
                    // Box–Muller, as every checkpoint so far was initialised
                    double u1 = random.nextDouble();
                    double u2 = random.nextDouble();
                    values[i] = Math.sqrt(-2.0 * Math.log(1.0 - u1)) * Math.cos(2.0 * Math.PI * u2) * std;
                }
                array.assign(Nd4j.create(values, array.shape(), 'c').castTo(array.dataType()));
            }
        }
    }

    /** Parameters per part: embedding tables, trunk blocks, heads, and the shared final norm with the unembedding. */
    ParameterCounts count(Map<String, INDArray> params) {
        long embedding = 0;
        long trunk = 0;
        long heads = 0;
        long unembedding = 0;
        for (Map.Entry<String, INDArray> e : params.entrySet()) {
            String name = e.getKey();
            long size = e.getValue().length();
            if (name.equals(TOKEN_TABLE) || name.equals(POSITION_TABLE)) {
                embedding += size;
            } else if (name.matches("t\\d+[a-z].*")) {
                trunk += size;
            } else if (name.matches("h\\d+[a-z].*")) {
                heads += size;
            } else {
                unembedding += size;
            }
        }
        return new ParameterCounts(embedding, trunk, heads, unembedding);
    }

    /** Blocks with a residual output projection in the whole model: the trunk plus the head blocks. */
    static int residualBlocks(HeadArchitecture architecture, int depth, int horizons) {
        int headBlocks = switch (architecture) {
            case PARALLEL -> horizons;
            case SEQUENTIAL -> horizons - 1;
            case LINEAR -> 0;
        };
        return Math.max(1, depth + headBlocks);
    }
}

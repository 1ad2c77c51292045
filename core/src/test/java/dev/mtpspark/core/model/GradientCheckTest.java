package dev.mtpspark.core.model;

import dev.mtpspark.core.config.HeadArchitecture;
import dev.mtpspark.core.config.MtpModelConfig;
import dev.mtpspark.core.config.NormType;
import dev.mtpspark.core.config.PositionalEncoding;
import dev.mtpspark.core.kernels.DenseMatrix;
import dev.mtpspark.core.kernels.Nd4jKernels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.api.MultiDataSet;
import org.nd4j.linalg.factory.Nd4j;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Central finite differences in double precision against the network's backward pass, for every variant: head
 * architectures, both norms, both position encodings, dropout (with fixed masks), no or several trunk blocks,
 * non-uniform loss weights, and both kernel implementations. Each parameter is checked at a few random coordinates
 * plus its largest-gradient one, which covers every parameter in a fraction of the time of checking all of them.
 */
class GradientCheckTest {
    private static final double EPS = 1e-6;

    static Stream<Arguments> variants() {
        return Stream.of(
                Arguments.of(HeadArchitecture.PARALLEL, 1, 1, NormType.LAYER_NORM, PositionalEncoding.LEARNED, 0.0),
                Arguments.of(HeadArchitecture.PARALLEL, 2, 2, NormType.LAYER_NORM, PositionalEncoding.LEARNED, 0.3),
                Arguments.of(HeadArchitecture.PARALLEL, 3, 0, NormType.RMS_NORM, PositionalEncoding.LEARNED, 0.0),
                Arguments.of(HeadArchitecture.PARALLEL, 4, 1, NormType.RMS_NORM, PositionalEncoding.ROPE, 0.2),
                Arguments.of(HeadArchitecture.SEQUENTIAL, 1, 1, NormType.RMS_NORM, PositionalEncoding.LEARNED, 0.0),
                Arguments.of(HeadArchitecture.SEQUENTIAL, 2, 1, NormType.LAYER_NORM, PositionalEncoding.LEARNED, 0.2),
                Arguments.of(HeadArchitecture.SEQUENTIAL, 4, 2, NormType.RMS_NORM, PositionalEncoding.ROPE, 0.1),
                Arguments.of(HeadArchitecture.LINEAR, 2, 1, NormType.LAYER_NORM, PositionalEncoding.LEARNED, 0.0),
                Arguments.of(HeadArchitecture.LINEAR, 3, 2, NormType.RMS_NORM, PositionalEncoding.ROPE, 0.25));
    }

    @ParameterizedTest(name = "{0} n={1} trunk={2} {3} {4} dropout={5}")
    @MethodSource("variants")
    void cpuKernelGradientsMatchFiniteDifferences(HeadArchitecture arch, int n, int depth, NormType norm,
                                                  PositionalEncoding pe, double dropout) {
        check(arch, n, depth, norm, pe, dropout, false);
    }

    @ParameterizedTest(name = "{0} n={1} trunk={2} {3} {4} dropout={5}")
    @MethodSource("variants")
    void nd4jKernelGradientsMatchFiniteDifferences(HeadArchitecture arch, int n, int depth, NormType norm,
                                                   PositionalEncoding pe, double dropout) {
        check(arch, n, depth, norm, pe, dropout, true);
    }

    @Test
    void theLayerHandsDl4jTheNetworksGradientOfTheSummedLoss() {
        // The DL4J path (MtpModel → layer → network) against the same finite differences of its score.
        MtpModelConfig config = TestModels.tiny(HeadArchitecture.PARALLEL, 2).lossWeights(TestModels.nonUniformWeights(2)).build();
        MtpModel model = TestModels.doubleModel(config);
        MultiDataSet batch = TestModels.randomBatch(config, 3, 5, DataType.DOUBLE);
        Map<String, INDArray> grads = TestModels.gradients(model.graph(), batch);
        for (Map.Entry<String, INDArray> e : model.graph().getLayer(MtpModel.NETWORK).paramTable().entrySet()) {
            INDArray p = e.getValue().reshape(e.getValue().length());
            INDArray g = grads.get(MtpModel.NETWORK + "_" + e.getKey()).reshape(p.length());
            long i = absArgMax(g);
            double saved = p.getDouble(i);
            p.putScalar(i, saved + EPS);
            double plus = model.score(batch);
            p.putScalar(i, saved - EPS);
            double minus = model.score(batch);
            p.putScalar(i, saved);
            double numeric = (plus - minus) / (2 * EPS) * 3;     // DL4J's score is the mean over the 3 windows
            assertClose(e.getKey() + "[" + i + "]", numeric, g.getDouble(i));
        }
    }

    private static void check(HeadArchitecture arch, int n, int depth, NormType norm, PositionalEncoding pe,
                              double dropout, boolean nd4jKernels) {
        MtpModelConfig config = TestModels.tiny(arch, n).trunkDepth(depth).normType(norm).positionalEncoding(pe)
                .dropout(dropout).lossWeights(TestModels.nonUniformWeights(n)).build();
        MtpModel model = TestModels.doubleModel(config);
        MtpOutputLayer layer = (MtpOutputLayer) model.graph().getLayer(MtpModel.NETWORK);
        NetworkShape shape = model.headLayer().shape();
        MultiDataSet data = TestModels.randomBatch(config, 2, 7, DataType.DOUBLE);
        TokenBatch batch = TokenBatch.of(data.getFeatures(0), data.getLabels(0), config.vocabSize());
        DenseMatrix[] masks = masks(shape, batch.rows(), dropout);
        MtpNetwork network = nd4jKernels
                ? new MtpNetwork(shape, DataType.DOUBLE, new Nd4jKernels(DataType.DOUBLE, shape.context(), shape.headWidth()))
                : new MtpNetwork(shape, DataType.DOUBLE);
        ParameterLayout layout = new ParameterLayout(shape);
        Map<String, INDArray> params = layer.parameters();
        Map<String, INDArray> gradients = new java.util.TreeMap<>();
        params.forEach((name, p) -> gradients.put(name, Nd4j.zeros(DataType.DOUBLE, p.shape())));
        List<Runnable> copyBacks = new ArrayList<>();
        double[] weights = config.lossWeights();
        double loss = network.run(layout.bind(params, null), layout.bind(gradients, copyBacks), batch, masks, weights, null);
        copyBacks.forEach(Runnable::run);
        assertEquals(loss, network.run(layout.bind(params, null), null, batch, masks, weights, null), 1e-12,
                "the forward-only loss equals the training loss");

        Random random = new Random(17);
        int checked = 0;
        for (Map.Entry<String, INDArray> e : params.entrySet()) {
            INDArray p = e.getValue().reshape(e.getValue().length());
            INDArray g = gradients.get(e.getKey()).reshape(p.length());
            List<Long> coordinates = new ArrayList<>(List.of(absArgMax(g)));
            for (int s = 0; s < 4; s++) {
                coordinates.add((long) random.nextInt((int) p.length()));
            }
            for (long i : coordinates) {
                double saved = p.getDouble(i);
                p.putScalar(i, saved + EPS);
                double plus = network.run(layout.bind(params, null), null, batch, masks, weights, null);
                p.putScalar(i, saved - EPS);
                double minus = network.run(layout.bind(params, null), null, batch, masks, weights, null);
                p.putScalar(i, saved);
                assertClose(e.getKey() + "[" + i + "]", (plus - minus) / (2 * EPS), g.getDouble(i));
                checked++;
            }
            assertTrue(g.norm2Number().doubleValue() > 0, e.getKey() + " has a zero gradient");
        }
        assertTrue(checked >= 5 * params.size());
    }

    private static long absArgMax(INDArray g) {
        return org.nd4j.linalg.ops.transforms.Transforms.abs(g, true).argMax().getLong(0);
    }

    /** Fixed inverted-dropout masks, so the loss is a deterministic function of the parameters. */
    private static DenseMatrix[] masks(NetworkShape shape, int rows, double dropout) {
        Random random = new Random(3);
        DenseMatrix[] masks = new DenseMatrix[shape.dropoutPoints()];
        for (int i = 0; i < masks.length; i++) {
            double[] values = new double[rows * shape.width()];
            for (int j = 0; j < values.length; j++) {
                values[j] = random.nextDouble() < dropout ? 0 : 1 / (1 - dropout);
            }
            masks[i] = DenseMatrix.allocate(DataType.DOUBLE, values.length);
            masks[i].copyFrom(Nd4j.createFromArray(values));
        }
        return masks;
    }

    private static void assertClose(String what, double numeric, double analytic) {
        double error = Math.abs(numeric - analytic);
        double scale = Math.max(Math.abs(numeric), Math.abs(analytic));
        assertTrue(error <= 1e-8 || error <= 1e-5 * scale,
                what + ": finite difference " + numeric + ", backward " + analytic);
    }
}

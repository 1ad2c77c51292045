package dev.mtpspark.core.generate;

import dev.mtpspark.core.config.MtpModelConfig;
import dev.mtpspark.core.model.MtpModel;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TextSamplerTest {
    private static final MtpModelConfig CONFIG = MtpModelConfig.builder().vocabSize(13).contextLength(6).modelWidth(8)
            .attentionHeads(2).trunkDepth(1).mlpWidth(16).predictedTokens(3).seed(7).build();

    @Test
    void greedyPicksTheArgmaxOfHeadOneAtTheLastPromptPosition() {
        MtpModel model = MtpModel.create(CONFIG);
        int[] prompt = {3, 1, 4};
        int[] next = new TextSampler(model).generate(prompt, 1, 0, 0, new Random(1));
        // Independent computation: a full window of the prompt followed by arbitrary tokens; causality means
        // position 2's head-1 logits ignore what follows.
        INDArray features = Nd4j.create(new double[][][]{{{3, 1, 4, 9, 9, 9}}}).castTo(DataType.FLOAT);
        INDArray logits = model.logits(features).get(NDArrayIndex.point(0), NDArrayIndex.point(0), NDArrayIndex.point(2), NDArrayIndex.all());
        assertEquals(logits.argMax().getInt(0), next[0]);
    }

    @Test
    void slidesTheWindowBeyondTheContextAndIsReproducible() {
        MtpModel model = MtpModel.create(CONFIG);
        TextSampler sampler = new TextSampler(model);
        int[] a = sampler.generate(new int[]{1}, 8, 1.0, 5, new Random(3));
        int[] b = sampler.generate(new int[]{1}, 8, 1.0, 5, new Random(3));
        assertEquals(8, a.length);
        assertArrayEquals(a, b);
        for (int id : a) {
            assertTrue(id >= 0 && id < 13);
        }
    }

    @Test
    void topKNeverPicksOutsideTheKBest() {
        double[] logits = {0.1, 3, 2.9, -1, 2.8};
        Random r = new Random(5);
        for (int i = 0; i < 200; i++) {
            int id = TextSampler.pick(logits, 1.0, 2, r);
            assertTrue(id == 1 || id == 2, "picked " + id);
        }
        assertEquals(1, TextSampler.pick(logits, 0, 0, r));
    }
}

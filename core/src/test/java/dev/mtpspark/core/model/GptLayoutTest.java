package dev.mtpspark.core.model;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mtpspark.core.config.HeadArchitecture;
import dev.mtpspark.core.config.MtpModelConfig;
import dev.mtpspark.core.config.NormType;
import dev.mtpspark.core.config.PositionalEncoding;
import dev.mtpspark.core.export.GptLayout;
import dev.mtpspark.core.export.Safetensors.Tensor;
import dev.mtpspark.core.export.Safetensors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.NoOp;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Export → safetensors bytes → import into a fresh model gives identical parameters and logits for every variant;
 * the GPT-2 names and shapes; missing and misshapen tensors are refused by name before anything is written.
 */
class GptLayoutTest {
    static Stream<Arguments> variants() {
        return Stream.of(
                Arguments.of(HeadArchitecture.PARALLEL, NormType.LAYER_NORM, PositionalEncoding.LEARNED, true),
                Arguments.of(HeadArchitecture.SEQUENTIAL, NormType.LAYER_NORM, PositionalEncoding.LEARNED, true),
                Arguments.of(HeadArchitecture.PARALLEL, NormType.RMS_NORM, PositionalEncoding.ROPE, false),
                Arguments.of(HeadArchitecture.LINEAR, NormType.LAYER_NORM, PositionalEncoding.LEARNED, false));
    }

    private static MtpModel model(HeadArchitecture arch, NormType norm, PositionalEncoding pe, long seed) {
        MtpModelConfig c = TestModels.tiny(arch, 3).trunkDepth(2).normType(norm).positionalEncoding(pe).seed(seed).build();
        return TestModels.perturbed(MtpModel.create(c, new NoOp(), DataType.FLOAT), seed);
    }

    @ParameterizedTest(name = "{0} {1} {2}")
    @MethodSource("variants")
    void roundTripGivesIdenticalParametersAndLogits(HeadArchitecture arch, NormType norm, PositionalEncoding pe, boolean gpt2) {
        MtpModel source = model(arch, norm, pe, 1);
        GptLayout.Exported e = GptLayout.export(source, 6, 6);
        ObjectNode config = e.config();
        assertEquals(gpt2 ? "gpt2" : "mtp_spark", config.get("model_type").asText());
        assertEquals(GptLayout.gptLayers(source.config()), config.get("n_layer").asInt());
        assertEquals(arch == HeadArchitecture.PARALLEL ? 3 : 2, config.get("n_layer").asInt(), "trunk + head 1's block");
        assertEquals(3, config.get("mtp").get("predicted_tokens").asInt());
        // Through the bytes, as a file would be.
        Map<String, Tensor> model = Safetensors.read(Safetensors.toBytes(e.model(), Map.of("format", "pt")), "model.safetensors");
        Map<String, Tensor> heads = Safetensors.read(Safetensors.toBytes(e.heads(), Map.of("format", "pt")), "mtp_heads.safetensors");
        MtpModel target = model(arch, norm, pe, 2);
        assertNotEquals(source.graph().params(), target.graph().params());
        GptLayout.load(target, model, "model.safetensors", heads, "mtp_heads.safetensors", false, GptLayout.ExtraHeads.FRESH);
        assertEquals(source.graph().params(), target.graph().params(), "every parameter");
        INDArray features = Nd4j.create(new double[][][] {{{1, 2, 3, 4, 5}, {2, 3, 4, 5, 6}, {3, 4, 5, 6, 0}}})
                .get(org.nd4j.linalg.indexing.NDArrayIndex.all(),
                        org.nd4j.linalg.indexing.NDArrayIndex.interval(0, source.config().inputChannels()),
                        org.nd4j.linalg.indexing.NDArrayIndex.all()).castTo(DataType.FLOAT);
        assertEquals(source.logits(features), target.logits(features), "logits");
    }

    @Test
    void gpt2NamesAndShapes() {
        MtpModel m = model(HeadArchitecture.PARALLEL, NormType.LAYER_NORM, PositionalEncoding.LEARNED, 1);
        GptLayout.Exported e = GptLayout.export(m, -1, -1);
        Map<String, Tensor> t = e.model();
        assertShape(t, "transformer.wte.weight", 7, 8);
        assertShape(t, "transformer.wpe.weight", 5, 8);
        assertShape(t, "transformer.h.0.attn.c_attn.weight", 8, 24);
        assertShape(t, "transformer.h.2.mlp.c_fc.weight", 8, 12);       // head 1's block is h.L
        assertShape(t, "transformer.h.2.mlp.c_proj.weight", 12, 8);
        assertShape(t, "lm_head.weight", 7, 8);
        assertFalse(t.containsKey("transformer.h.3.ln_1.weight"));
        assertShape(e.heads(), "heads.2.attn.c_attn.bias", 24);
        assertShape(e.heads(), "heads.3.ln_2.bias", 8);
        assertTrue(e.config().get("bos_token_id").isNull());
        // lm_head is the unembedding [d, V] transposed.
        INDArray unembed = m.graph().getLayer(MtpModel.NETWORK).paramTable().get(ParameterLayout.UNEMBEDDING);
        assertEquals(unembed.getFloat(1, 4), t.get("lm_head.weight").values()[4 * 8 + 1]);
    }

    @Test
    void missingOrMisshapenTensorsAreNamedAndNothingIsWritten() {
        MtpModel source = model(HeadArchitecture.PARALLEL, NormType.LAYER_NORM, PositionalEncoding.LEARNED, 1);
        GptLayout.Exported e = GptLayout.export(source, 6, 6);
        MtpModel target = model(HeadArchitecture.PARALLEL, NormType.LAYER_NORM, PositionalEncoding.LEARNED, 2);
        INDArray before = target.graph().params().dup();

        Map<String, Tensor> missing = new LinkedHashMap<>(e.model());
        missing.remove("transformer.h.1.ln_2.bias");
        IllegalArgumentException m = assertThrows(IllegalArgumentException.class,
                () -> GptLayout.load(target, missing, "dir/model.safetensors", null, "h", false, GptLayout.ExtraHeads.COPY));
        assertEquals("dir/model.safetensors has no tensor transformer.h.1.ln_2.bias (expected shape [8])", m.getMessage());

        Map<String, Tensor> wrong = new LinkedHashMap<>(e.model());
        wrong.put("transformer.wte.weight", new Tensor(new long[] {9, 8}, new float[72]));
        IllegalArgumentException s = assertThrows(IllegalArgumentException.class,
                () -> GptLayout.load(target, wrong, "dir/model.safetensors", null, "h", false, GptLayout.ExtraHeads.COPY));
        assertEquals("dir/model.safetensors: tensor transformer.wte.weight has shape [9, 8], the configured model needs [7, 8]", s.getMessage());

        Map<String, Tensor> deeper = new LinkedHashMap<>(e.model());
        e.model().forEach((k, v) -> {
            if (k.startsWith("transformer.h.2.")) {
                deeper.put(k.replace("transformer.h.2.", "transformer.h.3."), v);
            }
        });
        IllegalArgumentException b = assertThrows(IllegalArgumentException.class,
                () -> GptLayout.load(target, deeper, "dir/model.safetensors", null, "h", false, GptLayout.ExtraHeads.COPY));
        assertTrue(b.getMessage().contains("has 4 blocks (transformer.h.0..3); the configured model needs 3 (model.trunk-depth = 2 + head 1's block)"),
                b.getMessage());

        Map<String, Tensor> badHead = new LinkedHashMap<>(e.heads());
        badHead.put("heads.3.mlp.c_fc.bias", new Tensor(new long[] {11}, new float[11]));
        IllegalArgumentException h = assertThrows(IllegalArgumentException.class,
                () -> GptLayout.load(target, e.model(), "m", badHead, "dir/mtp_heads.safetensors", false, GptLayout.ExtraHeads.COPY));
        assertTrue(h.getMessage().startsWith("dir/mtp_heads.safetensors: tensor heads.3.mlp.c_fc.bias has shape [11]"), h.getMessage());
        assertEquals(before, target.graph().params(), "a refused import changes no parameter");
    }

    @Test
    void aNextTokenModelGrowsHeadsAsCopiesOfHeadOneOrFresh() {
        MtpModel source = model(HeadArchitecture.PARALLEL, NormType.LAYER_NORM, PositionalEncoding.LEARNED, 1);
        GptLayout.Exported e = GptLayout.export(source, 6, 6);
        Map<String, Tensor> tiedGpt2 = new LinkedHashMap<>(e.model());
        tiedGpt2.remove("lm_head.weight");                                      // GPT-2 files tie lm_head to wte
        MtpModel copy = model(HeadArchitecture.PARALLEL, NormType.LAYER_NORM, PositionalEncoding.LEARNED, 3);
        var log = GptLayout.load(copy, tiedGpt2, "m", null, "h", true, GptLayout.ExtraHeads.COPY);
        assertTrue(log.get(log.size() - 1).contains("heads [2, 3] initialised as copies of head 1's block"), log.toString());
        Map<String, INDArray> p = copy.graph().getLayer(MtpModel.NETWORK).paramTable();
        assertEquals(p.get("h1mlpInW"), p.get("h3mlpInW"));
        assertEquals(p.get(ParameterLayout.TOKEN_TABLE).transpose(), p.get(ParameterLayout.UNEMBEDDING), "tied");
        MtpModel fresh = model(HeadArchitecture.PARALLEL, NormType.LAYER_NORM, PositionalEncoding.LEARNED, 3);
        INDArray before = fresh.graph().getLayer(MtpModel.NETWORK).paramTable().get("h2mlpInW").dup();
        GptLayout.load(fresh, e.model(), "m", null, "h", false, GptLayout.ExtraHeads.FRESH);
        assertEquals(before, fresh.graph().getLayer(MtpModel.NETWORK).paramTable().get("h2mlpInW"));
    }

    private static void assertShape(Map<String, Tensor> t, String name, long... shape) {
        assertTrue(t.containsKey(name), name + " in " + t.keySet());
        assertEquals(java.util.Arrays.toString(shape), java.util.Arrays.toString(t.get(name).shape()), name);
    }
}

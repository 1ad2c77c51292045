package dev.mtpspark.core.export;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mtpspark.core.config.HeadArchitecture;
import dev.mtpspark.core.config.MtpModelConfig;
import dev.mtpspark.core.config.NormType;
import dev.mtpspark.core.config.PositionalEncoding;
import dev.mtpspark.core.export.Safetensors.Tensor;
import dev.mtpspark.core.kernels.DenseMatrix;
import dev.mtpspark.core.model.MtpModel;
import dev.mtpspark.core.model.Weights;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The model's parameters under Hugging Face GPT-2 names ({@code GPT2LMHeadModel}): the trunk blocks, then head 1's
 * block, as {@code transformer.h.0 … h.L}; Conv1D weights {@code [in, out]} as ours are; {@code lm_head} is our
 * unembedding transposed. Heads 2..n go to a second file under {@code heads.{k}.}. RMSNorm (gains only), rotary
 * positions (no {@code wpe}) and linear heads keep the same names in a configuration marked as ours
 * ({@code model_type: mtp_spark}). One list of entries serves export and import, so the two cannot disagree.
 */
public final class GptLayout {
    /** What an export writes: {@code model.safetensors}'s tensors, {@code mtp_heads.safetensors}'s, and config.json. */
    public record Exported(Map<String, Tensor> model, Map<String, Tensor> heads, ObjectNode config) {
    }

    /** How heads 2..n start when the imported directory has none for them. */
    public enum ExtraHeads {
        /** Copies of head 1's block (parallel), of the last trunk block (sequential modules' blocks), or of head 1 (linear). */
        COPY,
        /** This model's own random initialisation. */
        FRESH
    }

    /** One tensor: its name, our matrix, the file's shape, and whether the file holds our matrix transposed. */
    private record Entry(String name, DenseMatrix matrix, long[] shape, boolean transposed) {
    }

    private GptLayout() {
    }

    /** Whether GPT-2 can express the model: parallel or sequential heads, LayerNorm, learned positions. */
    public static boolean gpt2Compatible(MtpModelConfig c) {
        return c.headArchitecture() != HeadArchitecture.LINEAR && c.normType() == NormType.LAYER_NORM
                && c.positionalEncoding() == PositionalEncoding.LEARNED;
    }

    /** Blocks in the GPT-2 part: the trunk, plus head 1's block with parallel heads. */
    public static int gptLayers(MtpModelConfig c) {
        return c.trunkDepth() + (c.headArchitecture() == HeadArchitecture.PARALLEL ? 1 : 0);
    }

    /** The model's tensors (as float32) and config.json; {@code bosId}/{@code eosId} from the tokenizer (−1: none). */
    public static Exported export(MtpModel model, int bosId, int eosId) {
        MtpModelConfig c = model.config();
        Weights.Model w = model.weights();
        return new Exported(tensors(modelEntries(w, c)), tensors(headEntries(w, c)), config(c, bosId, eosId));
    }

    /**
     * Loads a directory's tensors into {@code target}: the GPT-2 part from {@code model} (file name
     * {@code modelFile} in errors), heads 2..n from {@code heads} where it has them (null: none), else as
     * {@code extraHeads} says. {@code tied}: take {@code lm_head} from {@code wte} when the file has none (GPT-2's
     * default). Checks every tensor before writing any. Returns one line per part saying where it came from.
     */
    public static List<String> load(MtpModel target, Map<String, Tensor> model, String modelFile, Map<String, Tensor> heads,
                                    String headsFile, boolean tied, ExtraHeads extraHeads) {
        MtpModelConfig c = target.config();
        Weights.Model w = target.weights();
        Map<String, Tensor> source = new LinkedHashMap<>(model);
        if (!source.containsKey("lm_head.weight") && tied && source.containsKey("transformer.wte.weight")) {
            Tensor wte = source.get("transformer.wte.weight");
            source.put("lm_head.weight", wte);                         // tied: the same [V, d] matrix
        }
        List<Entry> main = modelEntries(w, c);
        checkBlockCount(source, modelFile, c);
        for (Entry e : main) {
            check(source, modelFile, e);
        }
        List<String> log = new ArrayList<>();
        List<Entry> extra = headEntries(w, c);
        List<Integer> fromFile = new ArrayList<>();
        for (int k = 2; k <= c.predictedTokens(); k++) {
            String prefix = "heads." + k + ".";
            boolean present = heads != null && heads.keySet().stream().anyMatch(n -> n.startsWith(prefix));
            if (present) {
                for (Entry e : extra) {
                    if (e.name().startsWith(prefix)) {
                        check(heads, headsFile, e);
                    }
                }
                fromFile.add(k);
            }
        }
        for (Entry e : main) {
            assign(e, source.get(e.name()));
        }
        log.add("trunk (" + c.trunkDepth() + " blocks), head 1, final norm and unembedding from " + modelFile);
        for (Entry e : extra) {
            int k = Integer.parseInt(e.name().split("\\.")[1]);
            if (fromFile.contains(k)) {
                assign(e, heads.get(e.name()));
            }
        }
        List<Integer> initialised = new ArrayList<>();
        for (int k = 2; k <= c.predictedTokens(); k++) {
            if (!fromFile.contains(k)) {
                initialised.add(k);
                if (extraHeads == ExtraHeads.COPY) {
                    copyHead(w, c, k);
                }
            }
        }
        if (!fromFile.isEmpty()) {
            log.add("heads " + fromFile + " from " + headsFile);
        }
        if (!initialised.isEmpty()) {
            log.add("heads " + initialised + (extraHeads == ExtraHeads.COPY ? switch (c.headArchitecture()) {
                case PARALLEL -> " initialised as copies of head 1's block";
                case SEQUENTIAL -> " initialised with copies of the last trunk block (projection and norms fresh)";
                case LINEAR -> " initialised as copies of head 1";
            } : " freshly initialised"));
        }
        return log;
    }

    private static List<Entry> modelEntries(Weights.Model w, MtpModelConfig c) {
        int d = c.modelWidth();
        int v = c.vocabSize();
        List<Entry> e = new ArrayList<>();
        e.add(new Entry("transformer.wte.weight", w.tokens(), new long[] {v, d}, false));
        if (w.positions() != null) {
            e.add(new Entry("transformer.wpe.weight", w.positions(), new long[] {c.contextLength(), d}, false));
        }
        for (int i = 0; i < c.trunkDepth(); i++) {
            block(e, "transformer.h." + i + ".", w.trunk()[i], c);
        }
        Weights.Head first = w.heads()[0];
        if (first instanceof Weights.ParallelHead p) {
            block(e, "transformer.h." + c.trunkDepth() + ".", p.block(), c);
        } else if (first instanceof Weights.LinearHead l) {
            e.add(new Entry("transformer.linear_head.weight", l.weight(), new long[] {d, d}, false));
            e.add(new Entry("transformer.linear_head.bias", l.bias(), new long[] {d}, false));
        }
        norm(e, "transformer.ln_f.", w.finalNorm(), d);
        e.add(new Entry("lm_head.weight", w.unembedding(), new long[] {v, d}, true));
        return e;
    }

    private static List<Entry> headEntries(Weights.Model w, MtpModelConfig c) {
        int d = c.modelWidth();
        List<Entry> e = new ArrayList<>();
        for (int k = 2; k <= c.predictedTokens(); k++) {
            String p = "heads." + k + ".";
            Weights.Head head = w.heads()[k - 1];
            if (head instanceof Weights.ParallelHead ph) {
                block(e, p, ph.block(), c);
            } else if (head instanceof Weights.LinearHead l) {
                e.add(new Entry(p + "linear.weight", l.weight(), new long[] {d, d}, false));
                e.add(new Entry(p + "linear.bias", l.bias(), new long[] {d}, false));
            } else if (head instanceof Weights.SequentialHead s) {
                norm(e, p + "hidden_norm.", s.hiddenNorm(), d);
                norm(e, p + "embedding_norm.", s.embeddingNorm(), d);
                e.add(new Entry(p + "projection.weight", s.projection(), new long[] {2L * d, d}, false));
                block(e, p, s.block(), c);
            }
        }
        return e;
    }

    private static void block(List<Entry> e, String p, Weights.Block b, MtpModelConfig c) {
        long d = c.modelWidth();
        long m = c.mlpWidth();
        norm(e, p + "ln_1.", b.norm1(), d);
        e.add(new Entry(p + "attn.c_attn.weight", b.qkvWeight(), new long[] {d, 3 * d}, false));
        e.add(new Entry(p + "attn.c_attn.bias", b.qkvBias(), new long[] {3 * d}, false));
        e.add(new Entry(p + "attn.c_proj.weight", b.outWeight(), new long[] {d, d}, false));
        e.add(new Entry(p + "attn.c_proj.bias", b.outBias(), new long[] {d}, false));
        norm(e, p + "ln_2.", b.norm2(), d);
        e.add(new Entry(p + "mlp.c_fc.weight", b.mlpInWeight(), new long[] {d, m}, false));
        e.add(new Entry(p + "mlp.c_fc.bias", b.mlpInBias(), new long[] {m}, false));
        e.add(new Entry(p + "mlp.c_proj.weight", b.mlpOutWeight(), new long[] {m, d}, false));
        e.add(new Entry(p + "mlp.c_proj.bias", b.mlpOutBias(), new long[] {d}, false));
    }

    private static void norm(List<Entry> e, String p, Weights.Norm n, long d) {
        e.add(new Entry(p + "weight", n.gain(), new long[] {d}, false));
        if (n.bias() != null) {
            e.add(new Entry(p + "bias", n.bias(), new long[] {d}, false));
        }
    }

    private static Map<String, Tensor> tensors(List<Entry> entries) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (Entry e : entries) {
            INDArray a = e.matrix().array();
            INDArray values = e.transposed() ? a.reshape(e.shape()[1], e.shape()[0]).transpose() : a.reshape(e.shape());
            out.put(e.name(), new Tensor(e.shape(), values.dup('c').castTo(org.nd4j.linalg.api.buffer.DataType.FLOAT).data().asFloat()));
        }
        return out;
    }

    private static void checkBlockCount(Map<String, Tensor> source, String file, MtpModelConfig c) {
        int found = 0;
        while (source.containsKey("transformer.h." + found + ".attn.c_attn.weight")) {
            found++;
        }
        int needed = gptLayers(c);
        if (found != needed) {
            throw new IllegalArgumentException(file + " has " + found + " blocks (transformer.h.0.." + (found - 1)
                    + "); the configured model needs " + needed + " (model.trunk-depth = " + c.trunkDepth()
                    + (c.headArchitecture() == HeadArchitecture.PARALLEL ? " + head 1's block" : "") + ")");
        }
    }

    private static void check(Map<String, Tensor> source, String file, Entry e) {
        Tensor t = source.get(e.name());
        if (t == null) {
            throw new IllegalArgumentException(file + " has no tensor " + e.name() + " (expected shape "
                    + Arrays.toString(e.shape()) + ")");
        }
        if (!Arrays.equals(t.shape(), e.shape())) {
            throw new IllegalArgumentException(file + ": tensor " + e.name() + " has shape " + Arrays.toString(t.shape())
                    + ", the configured model needs " + Arrays.toString(e.shape()));
        }
    }

    private static void assign(Entry e, Tensor t) {
        INDArray values = Nd4j.create(t.values(), t.shape(), 'c').castTo(e.matrix().array().dataType());
        INDArray target = e.matrix().array();
        if (e.transposed()) {
            target.reshape(e.shape()[1], e.shape()[0]).assign(values.transpose());
        } else {
            target.reshape(e.shape()).assign(values);
        }
    }

    /** Head k's parameters from head 1's (parallel, linear) or its block from the last trunk block (sequential). */
    private static void copyHead(Weights.Model w, MtpModelConfig c, int k) {
        Weights.Head head = w.heads()[k - 1];
        if (head instanceof Weights.ParallelHead p) {
            copyBlock(((Weights.ParallelHead) w.heads()[0]).block(), p.block());
        } else if (head instanceof Weights.LinearHead l) {
            Weights.LinearHead first = (Weights.LinearHead) w.heads()[0];
            l.weight().array().assign(first.weight().array());
            l.bias().array().assign(first.bias().array());
        } else if (head instanceof Weights.SequentialHead s && c.trunkDepth() > 0) {
            copyBlock(w.trunk()[c.trunkDepth() - 1], s.block());
        }
    }

    private static void copyBlock(Weights.Block from, Weights.Block to) {
        DenseMatrix[] a = matrices(from);
        DenseMatrix[] b = matrices(to);
        for (int i = 0; i < a.length; i++) {
            if (a[i] != null) {
                b[i].array().assign(a[i].array());
            }
        }
    }

    private static DenseMatrix[] matrices(Weights.Block b) {
        return new DenseMatrix[] {b.norm1().gain(), b.norm1().bias(), b.qkvWeight(), b.qkvBias(), b.outWeight(), b.outBias(),
                b.norm2().gain(), b.norm2().bias(), b.mlpInWeight(), b.mlpInBias(), b.mlpOutWeight(), b.mlpOutBias()};
    }

    private static ObjectNode config(MtpModelConfig c, int bosId, int eosId) {
        ObjectNode o = new ObjectMapper().createObjectNode();
        boolean gpt2 = gpt2Compatible(c);
        o.put("model_type", gpt2 ? "gpt2" : "mtp_spark");
        o.putArray("architectures").add(gpt2 ? "GPT2LMHeadModel" : "MtpSparkForCausalLM");
        o.put("vocab_size", c.vocabSize());
        o.put("n_positions", c.contextLength());
        o.put("n_ctx", c.contextLength());
        o.put("n_embd", c.modelWidth());
        o.put("n_layer", gptLayers(c));
        o.put("n_head", c.attentionHeads());
        o.put("n_inner", c.mlpWidth());
        o.put("activation_function", "gelu_new");
        o.put("layer_norm_epsilon", c.normEpsilon());
        o.put("tie_word_embeddings", false);
        o.put("resid_pdrop", 0.0);
        o.put("embd_pdrop", 0.0);
        o.put("attn_pdrop", 0.0);
        o.put("scale_attn_weights", true);
        if (bosId >= 0) {
            o.put("bos_token_id", bosId);
        } else {
            o.putNull("bos_token_id");
        }
        if (eosId >= 0) {
            o.put("eos_token_id", eosId);
        } else {
            o.putNull("eos_token_id");
        }
        ObjectNode mtp = o.putObject("mtp");
        mtp.put("predicted_tokens", c.predictedTokens());
        mtp.put("head_architecture", c.headArchitecture().name().toLowerCase(java.util.Locale.ROOT));
        mtp.put("trunk_layers", c.trunkDepth());
        mtp.put("norm", c.normType() == NormType.LAYER_NORM ? "layer_norm" : "rms_norm");
        mtp.put("position_encoding", c.positionalEncoding() == PositionalEncoding.LEARNED ? "learned" : "rope");
        mtp.put("rope_base", 10000);
        var weights = mtp.putArray("loss_weights");
        for (double x : c.lossWeights()) {
            weights.add(x);
        }
        return o;
    }
}

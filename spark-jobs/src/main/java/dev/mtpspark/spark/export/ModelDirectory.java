package dev.mtpspark.spark.export;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mtpspark.core.data.Tokenizer;
import dev.mtpspark.core.export.Safetensors;
import dev.mtpspark.core.export.Safetensors.Tensor;
import dev.mtpspark.core.export.GptLayout;
import dev.mtpspark.core.model.MtpModel;
import dev.mtpspark.spark.metrics.MetricsLog;
import dev.mtpspark.spark.metrics.MetricsRow;
import dev.mtpspark.spark.tokenize.BadInputException;
import dev.mtpspark.spark.train.CheckpointStore;
import dev.mtpspark.spark.train.GenerateCommand;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

/**
 * A model directory in the Hugging Face layout (any Hadoop file system): {@code model.safetensors} +
 * {@code config.json} (GPT-2's {@code GPT2LMHeadModel} where GPT-2 can express the model), {@code mtp_heads.safetensors}
 * (heads 2..n), {@code tokenizer.json} and a {@code README.md} model card. Written into a temporary sibling directory
 * and renamed into place, so a failed export leaves nothing; read strictly (errors name the file and the tensor).
 */
public final class ModelDirectory {
    public static final String MODEL = "model.safetensors";
    public static final String HEADS = "mtp_heads.safetensors";
    public static final String CONFIG = "config.json";
    public static final String TOKENIZER = "tokenizer.json";
    public static final String CARD = "README.md";
    private static final ObjectMapper JSON = new ObjectMapper();

    /** What {@link #read} found. {@code heads} is null without {@code mtp_heads.safetensors}; {@code tokenizerJson} may be null. */
    public record Contents(Path dir, JsonNode config, Map<String, Tensor> model, Map<String, Tensor> heads, String tokenizerJson) {
        /** GPT-2's default: the unembedding is {@code wte} unless the configuration says otherwise. */
        public boolean tiedEmbeddings() {
            return config.path("tie_word_embeddings").asBoolean(true);
        }
    }

    private ModelDirectory() {
    }

    /** Exports checkpoint {@code c} to {@code out}; an existing {@code out} is replaced only with {@code overwrite}. */
    public static void write(CheckpointStore.Loaded c, Path out, Configuration conf, boolean overwrite) throws IOException {
        FileSystem fs = out.getFileSystem(conf);
        if (fs.exists(out) && !overwrite) {
            throw new BadInputException("--output " + out + " exists; choose another directory or add --overwrite");
        }
        Tokenizer tokenizer = GenerateCommand.tokenizer(c);
        int eos = tokenizer.eosId();
        MtpModel model = c.model();
        GptLayout.Exported e = GptLayout.export(model, eos, eos);
        Path tmp = new Path(out.getParent(), "." + out.getName() + ".partial-" + UUID.randomUUID());
        try {
            fs.mkdirs(tmp);
            Map<String, String> meta = Map.of("format", "pt");
            try (OutputStream o = fs.create(new Path(tmp, MODEL), false)) {
                Safetensors.write(o, e.model(), meta);
            }
            if (!e.heads().isEmpty()) {
                try (OutputStream o = fs.create(new Path(tmp, HEADS), false)) {
                    Safetensors.write(o, e.heads(), meta);
                }
            }
            writeText(fs, new Path(tmp, CONFIG), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(e.config()));
            writeText(fs, new Path(tmp, TOKENIZER), c.tokenizerJson());
            writeText(fs, new Path(tmp, CARD), card(c, e, validation(c, conf)));
            if (fs.exists(out)) {
                fs.delete(out, true);
            }
            if (!fs.rename(tmp, out)) {
                throw new IOException("could not rename " + tmp + " to " + out);
            }
        } finally {
            if (fs.exists(tmp)) {
                fs.delete(tmp, true);
            }
        }
    }

    /** Reads a directory written by {@link #write} or any GPT-2-layout safetensors directory. */
    public static Contents read(Path dir, Configuration conf) throws IOException {
        FileSystem fs = dir.getFileSystem(conf);
        if (!fs.isDirectory(dir)) {
            throw new BadInputException("--init-from " + dir + " is not a directory");
        }
        Path model = new Path(dir, MODEL);
        if (!fs.exists(model)) {
            throw new BadInputException(dir + " has no " + MODEL + " (a directory written by export, or a Hugging Face GPT-2 model directory)");
        }
        JsonNode config = JSON.createObjectNode();
        Path configPath = new Path(dir, CONFIG);
        if (fs.exists(configPath)) {
            try {
                config = JSON.readTree(readBytes(fs, configPath));
            } catch (IOException ex) {
                throw new BadInputException(configPath + " is not valid JSON: " + ex.getMessage());
            }
        }
        Path heads = new Path(dir, HEADS);
        Path tokenizer = new Path(dir, TOKENIZER);
        return new Contents(dir, config, tensors(fs, model), fs.exists(heads) ? tensors(fs, heads) : null,
                fs.exists(tokenizer) ? new String(readBytes(fs, tokenizer), StandardCharsets.UTF_8) : null);
    }

    private static Map<String, Tensor> tensors(FileSystem fs, Path file) throws IOException {
        long length = fs.getFileStatus(file).getLen();
        if (length > Integer.MAX_VALUE - 64) {
            throw new BadInputException(file + " is " + length + " bytes; files over 2 GiB are not supported yet");
        }
        try {
            return Safetensors.read(readBytes(fs, file, (int) length), file.toString());
        } catch (IllegalArgumentException e) {
            throw new BadInputException(e.getMessage());
        }
    }

    private static byte[] readBytes(FileSystem fs, Path file) throws IOException {
        return readBytes(fs, file, (int) fs.getFileStatus(file).getLen());
    }

    private static byte[] readBytes(FileSystem fs, Path file, int length) throws IOException {
        byte[] bytes = new byte[length];
        try (FSDataInputStream in = fs.open(file)) {
            in.readFully(0, bytes);
        }
        return bytes;
    }

    private static void writeText(FileSystem fs, Path p, String text) throws IOException {
        try (OutputStream o = fs.create(p, false)) {
            o.write(text.getBytes(StandardCharsets.UTF_8));
        }
    }

    /** The run's last validation row at or before the checkpoint's step, if the checkpoint sits in a run directory. */
    private static Optional<MetricsRow> validation(CheckpointStore.Loaded c, Configuration conf) {
        try {
            Path run = c.path().getParent().getParent();
            List<MetricsRow> rows = MetricsLog.read(run, conf);
            return rows.stream().filter(MetricsRow::isValidation).filter(r -> r.step() <= c.state().step())
                    .reduce((a, b) -> b);
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    private static String card(CheckpointStore.Loaded c, GptLayout.Exported e, Optional<MetricsRow> validation) {
        var m = c.model().config();
        boolean gpt2 = GptLayout.gpt2Compatible(m);
        StringBuilder b = new StringBuilder();
        b.append("# Multi-token prediction model (mtp-spark)\n\n");
        b.append(String.format(Locale.ROOT, "Exported from `%s` (step %d, %,d tokens seen).%n%n", c.path(), c.state().step(),
                c.state().tokensSeen()));
        b.append(String.format(Locale.ROOT, "- n = %d heads (%s), %d trunk blocks, width %d, %d attention heads, MLP %d, "
                        + "context %d, vocabulary %d, %s, %s positions; %,d parameters%n", m.predictedTokens(),
                m.headArchitecture().name().toLowerCase(Locale.ROOT), m.trunkDepth(), m.modelWidth(), m.attentionHeads(),
                m.mlpWidth(), m.contextLength(), m.vocabSize(), m.normType().name().toLowerCase(Locale.ROOT).replace('_', ' '),
                m.positionalEncoding().name().toLowerCase(Locale.ROOT), c.model().graph().numParams()));
        b.append(String.format(Locale.ROOT, "- loss weights %s%n%n", java.util.Arrays.toString(m.lossWeights())));
        if (gpt2) {
            b.append("`model.safetensors` + `config.json` are a Hugging Face `GPT2LMHeadModel` (the trunk blocks, then head 1's "
                    + "block, as `transformer.h.*`): the ordinary next-token model.\n\n```python\nfrom transformers import "
                    + "GPT2LMHeadModel\nmodel = GPT2LMHeadModel.from_pretrained(\"<this directory>\")\n```\n\n");
        } else {
            b.append("This configuration (RMSNorm, rotary positions or linear heads) is not expressible as GPT-2: `config.json` "
                    + "has `model_type: mtp_spark`, with GPT-2's tensor names where they apply (see mtp-spark's docs/training.md, "
                    + "\"Export and import\").\n\n");
        }
        if (!e.heads().isEmpty()) {
            b.append("`mtp_heads.safetensors` holds heads 2..n under `heads.{k}.` (the extra heads for self-speculative "
                    + "decoding or further multi-token training); `config.json`'s `mtp` object has their settings.\n\n");
        }
        b.append("Tokenizer: `tokenizer.json`, as written by mtp-spark's tokenize job.\n\n## Validation\n\n");
        if (validation.isPresent()) {
            MetricsRow r = validation.get();
            b.append(String.format(Locale.ROOT, "At step %d:%n%n| head | loss | perplexity | top-1 | top-5 |%n| --- | --- | --- | --- | --- |%n", r.step()));
            for (int k = 0; k < r.loss().length; k++) {
                b.append(String.format(Locale.ROOT, "| %d | %.4f | %.2f | %.4f | %.4f |%n", k + 1, r.loss()[k], r.perplexity()[k],
                        r.accuracy()[k], r.top5()[k]));
            }
        } else {
            b.append("No validation metrics were found beside the checkpoint.\n");
        }
        return b.toString();
    }
}

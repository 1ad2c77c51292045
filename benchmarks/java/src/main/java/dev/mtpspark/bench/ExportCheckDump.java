package dev.mtpspark.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mtpspark.core.config.HeadArchitecture;
import dev.mtpspark.core.config.MtpModelConfig;
import dev.mtpspark.core.config.NormType;
import dev.mtpspark.core.config.PositionalEncoding;
import dev.mtpspark.core.export.Safetensors;
import dev.mtpspark.core.export.GptLayout;
import dev.mtpspark.core.model.MtpModel;
import dev.mtpspark.core.export.NpzExport;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.NoOp;

import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

/**
 * The Java side of {@code benchmarks/reference/export_check.sh}: for each variant, a model with every parameter
 * perturbed off its initial value, exported (model.safetensors, mtp_heads.safetensors, config.json under
 * {@code <out>/<case>/export/}), and {@code expected.npz} with random ids {@code [B, T]} and the Java logits
 * {@code [B, n, T, V]} of every head, for the independent PyTorch reader to compare.
 * Usage: {@code ExportCheckDump <out dir>}.
 */
public final class ExportCheckDump {
    private ExportCheckDump() {
    }

    public static void main(String[] args) throws Exception {
        Path out = Path.of(args.length > 0 ? args[0] : "target/export-check");
        Files.createDirectories(out);
        dump(out, "parallel-n3", base().predictedTokens(3).headArchitecture(HeadArchitecture.PARALLEL));
        dump(out, "parallel-n1", base().predictedTokens(1).headArchitecture(HeadArchitecture.PARALLEL));
        dump(out, "sequential-n3", base().predictedTokens(3).headArchitecture(HeadArchitecture.SEQUENTIAL));
        dump(out, "linear-n3", base().predictedTokens(3).headArchitecture(HeadArchitecture.LINEAR));
        dump(out, "parallel-n2-rmsnorm-rope", base().predictedTokens(2).normType(NormType.RMS_NORM)
                .positionalEncoding(PositionalEncoding.ROPE));
        dump(out, "sequential-n3-rmsnorm-rope", base().predictedTokens(3).headArchitecture(HeadArchitecture.SEQUENTIAL)
                .normType(NormType.RMS_NORM).positionalEncoding(PositionalEncoding.ROPE));
        dump(out, "linear-n2-rope", base().predictedTokens(2).headArchitecture(HeadArchitecture.LINEAR)
                .positionalEncoding(PositionalEncoding.ROPE));
    }

    private static MtpModelConfig.Builder base() {
        return MtpModelConfig.builder().vocabSize(23).contextLength(12).modelWidth(16).attentionHeads(4).trunkDepth(2)
                .mlpWidth(40).initStd(0.3).seed(5);
    }

    private static void dump(Path out, String name, MtpModelConfig.Builder builder) throws Exception {
        MtpModelConfig c = builder.build();
        MtpModel model = MtpModel.create(c, new NoOp(), DataType.FLOAT);
        INDArray params = model.graph().params();
        Nd4j.getRandom().setSeed(11);
        params.addi(Nd4j.randn(params.dataType(), params.shape()).muli(0.2));   // biases off 0, gains off 1
        int b = 2;
        int t = c.contextLength();
        Random r = new Random(3);
        int[][] ids = new int[b][t];
        double[][][] features = new double[b][c.inputChannels()][t];
        for (int i = 0; i < b; i++) {
            int[] stream = new int[t + c.inputChannels()];
            for (int p = 0; p < stream.length; p++) {
                stream[p] = r.nextInt(c.vocabSize());
            }
            System.arraycopy(stream, 0, ids[i], 0, t);
            for (int ch = 0; ch < c.inputChannels(); ch++) {
                for (int p = 0; p < t; p++) {
                    features[i][ch][p] = p + ch < t ? stream[p + ch] : 0;   // the look-ahead beyond T is 0, as the reader pads
                }
            }
        }
        INDArray logits = model.logits(Nd4j.create(features).castTo(DataType.FLOAT));
        Path dir = out.resolve(name);
        Path export = dir.resolve("export");
        Files.createDirectories(export);
        GptLayout.Exported e = GptLayout.export(model, 0, 0);
        try (OutputStream o = Files.newOutputStream(export.resolve("model.safetensors"))) {
            Safetensors.write(o, e.model(), Map.of("format", "pt"));
        }
        if (!e.heads().isEmpty()) {
            try (OutputStream o = Files.newOutputStream(export.resolve("mtp_heads.safetensors"))) {
                Safetensors.write(o, e.heads(), Map.of("format", "pt"));
            }
        }
        Files.writeString(export.resolve("config.json"), new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(e.config()));
        Map<String, INDArray> expected = new LinkedHashMap<>();
        expected.put("ids", Nd4j.createFromArray(ids).castTo(DataType.INT));
        expected.put("logits", logits.castTo(DataType.FLOAT));
        NpzExport.write(dir.resolve("expected.npz"), expected);
        System.out.println("export check case " + name + " → " + dir);
    }
}

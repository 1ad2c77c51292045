package dev.mtpspark.spark.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mtpspark.core.model.MtpModel;
import dev.mtpspark.spark.MtpCli;
import dev.mtpspark.spark.export.ModelDirectory;
import dev.mtpspark.spark.metrics.MetricsLog;
import dev.mtpspark.spark.metrics.MetricsRow;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static dev.mtpspark.spark.CliAssertions.assertError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code export} writes the directory (GPT-2 config, both safetensors files, the tokenizer, a model card with the
 * run's validation table) and refuses to replace one without --overwrite; {@code train --init-from} starts a run
 * from it with the exported parameters (its step-0 validation equals the exported run's last), and bad directories
 * fail with their message before run.output is touched.
 */
class ExportAndImportTest {
    @TempDir
    static Path dir;
    private static SparkSession spark;
    private static String dataset;
    private static TrainJob.Result trained;

    @BeforeAll
    static void start() throws Exception {
        spark = SparkSession.builder().master("local[2]").appName("export-test").config("spark.ui.enabled", "false").getOrCreate();
        dataset = TrainFixtures.tokenize(spark, TrainFixtures.corpus(dir), dir.resolve("dataset"));
        trained = TrainJob.run(spark, TrainFixtures.config(dataset, dir.resolve("run"), List.of("training.steps=4",
                "training.averaging-frequency=2", "evaluation.every-steps=4", "logging.every-steps=2", "checkpoint.every-steps=4")),
                TrainJob.ResumeMode.OVERWRITE);
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    @Test
    void exportWritesTheDirectoryAndTrainInitFromStartsFromIt() throws Exception {
        Path out = dir.resolve("exported");
        assertEquals(0, MtpCli.execute("export", "--checkpoint", dir.resolve("run").toString(), "--output", out.toString()));
        for (String f : new String[] {"model.safetensors", "mtp_heads.safetensors", "config.json", "tokenizer.json", "README.md"}) {
            assertTrue(Files.size(out.resolve(f)) > 0, f);
        }
        assertEquals(List.of(), Files.list(dir).filter(p -> p.getFileName().toString().contains(".partial-")).toList(),
                "no temporary directory left");
        JsonNode config = new ObjectMapper().readTree(out.resolve("config.json").toFile());
        assertEquals("gpt2", config.get("model_type").asText());
        assertEquals(2, config.get("n_layer").asInt(), "1 trunk block + head 1's block");
        assertEquals(TrainFixtures.N, config.get("mtp").get("predicted_tokens").asInt());
        assertEquals(Files.readString(Path.of(dataset, "tokenizer.json")), Files.readString(out.resolve("tokenizer.json")));
        String card = Files.readString(out.resolve("README.md"));
        MetricsRow last = MetricsLog.read(new org.apache.hadoop.fs.Path(dir.resolve("run").toString()), new Configuration()).stream()
                .filter(MetricsRow::isValidation).reduce((a, b) -> b).orElseThrow();
        assertTrue(card.contains(String.format(java.util.Locale.ROOT, "| 1 | %.4f |", last.loss()[0])), card);

        assertError(2, "exists; choose another directory or add --overwrite", "export", "--checkpoint",
                dir.resolve("run").toString(), "--output", out.toString());
        assertEquals(0, MtpCli.execute("export", "--checkpoint", dir.resolve("run").toString(), "--output", out.toString(), "--overwrite"));

        // Import: the exported parameters, exactly.
        CheckpointStore.Loaded c = CheckpointStore.resolve(dir.resolve("run").toString(), new Configuration());
        TrainConfig cfg = TrainFixtures.config(dataset, dir.resolve("unused"), List.of());
        DatasetInfo ds = DatasetInfo.read(dataset, new Configuration());
        MtpModel imported = InitialWeights.load(out.toString(), TrainConfig.InitHeads.FRESH,
                cfg.model().toModelConfig(ds.vocabSize(), cfg.run().seed()), cfg.optimizerSettings(), ds, new Configuration());
        assertEquals(c.model().graph().params(), imported.graph().params());
        var features = Nd4j.create(new double[][][] {{{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}}}).castTo(DataType.FLOAT);
        assertEquals(c.model().logits(features), imported.logits(features));

        // A new run from the directory: its step-0 validation is the exported run's last.
        List<String> args = new ArrayList<>(List.of("train", "--init-from", out.toString()));
        for (String o : TrainFixtures.tinyModel()) {
            args.add("--set");
            args.add(o);
        }
        args.addAll(List.of("--set", "data.dataset=" + dataset, "--set", "run.output=" + dir.resolve("continued"),
                "--set", "training.steps=2", "--set", "training.averaging-frequency=2", "--set", "evaluation.every-steps=2",
                "--set", "logging.every-steps=2", "--set", "checkpoint.every-steps=2"));
        assertEquals(0, MtpCli.execute(args.toArray(String[]::new)));
        MetricsRow first = MetricsLog.read(new org.apache.hadoop.fs.Path(dir.resolve("continued").toString()), new Configuration())
                .stream().filter(MetricsRow::isValidation).findFirst().orElseThrow();
        assertEquals(0, first.step());
        assertEquals(last.loss()[0], first.loss()[0], 1e-6, "the imported model's validation loss");
        assertError(2, "starts a new run, but run.output = ", args.toArray(String[]::new));

        // Bad directories: a truncated file, another tokenizer; nothing is created.
        Path bad = dir.resolve("bad");
        Files.createDirectories(bad);
        for (String f : new String[] {"config.json", "tokenizer.json", "mtp_heads.safetensors"}) {
            Files.copy(out.resolve(f), bad.resolve(f));
        }
        byte[] model = Files.readAllBytes(out.resolve("model.safetensors"));
        Files.write(bad.resolve("model.safetensors"), java.util.Arrays.copyOf(model, model.length - 100));
        List<String> badArgs = new ArrayList<>(args);
        badArgs.set(2, bad.toString());
        int runOutput = badArgs.indexOf("run.output=" + dir.resolve("continued"));
        badArgs.set(runOutput, "run.output=" + dir.resolve("never"));
        assertError(2, bad.resolve("model.safetensors") + " tensor lm_head.weight has data_offsets", badArgs.toArray(String[]::new));
        Files.write(bad.resolve("model.safetensors"), model);
        Files.writeString(bad.resolve("tokenizer.json"), "{\"type\": \"another\"}");
        assertError(2, "has another tokenizer than data.dataset", badArgs.toArray(String[]::new));
        assertFalse(Files.exists(dir.resolve("never")), "a refused import writes no run directory");
        badArgs.set(2, dir.toString());
        assertError(2, dir + " has no model.safetensors", badArgs.toArray(String[]::new));
    }
}

package dev.mtpspark.spark.pipeline;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mtpspark.spark.MtpCli;
import dev.mtpspark.spark.metrics.MetricsLog;
import dev.mtpspark.spark.metrics.MetricsRow;
import dev.mtpspark.spark.train.CheckpointStore;
import dev.mtpspark.spark.train.GenerateCommand;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

import static dev.mtpspark.spark.CliAssertions.assertError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * tokenize → train → evaluate → sample through the command line, on Spark local[2] with two workers and DL4J's
 * Export approach (the direct approach is covered by DistributedTrainingTest).
 */
class PipelineCommandTest {
    @TempDir
    static Path dir;

    @BeforeAll
    static void localTwoCores() {
        System.setProperty("spark.master", "local[2]");
        System.setProperty("spark.ui.enabled", "false");
    }

    @AfterAll
    static void clear() {
        System.clearProperty("spark.master");
        System.clearProperty("spark.ui.enabled");
    }

    @Test
    void runsTheWholePipelineAndEveryOutputIsThere() throws Exception {
        Path corpus = dir.resolve("corpus");
        Files.createDirectories(corpus);
        String[] words = {"alpha", "beta", "gamma", "delta", "epsilon"};
        Random r = new Random(3);
        for (int d = 0; d < 20; d++) {
            StringBuilder b = new StringBuilder();
            for (int i = 0; i < 300; i++) {
                b.append(words[r.nextInt(words.length)]).append(i % 8 == 7 ? ".\n" : " ");
            }
            Files.writeString(corpus.resolve("doc" + d + ".txt"), b.toString());
        }
        Path run = dir.resolve("run");
        int exit = MtpCli.execute("pipeline", "--config", "../conf/local.yaml",
                "--set", "tokenize.inputs=[" + corpus + "]", "--set", "tokenize.tokenizer=char",
                "--set", "data.dataset=" + dir.resolve("dataset"), "--set", "run.output=" + run,
                "--set", "model.context-length=16", "--set", "model.predicted-tokens=3", "--set", "model.model-width=16",
                "--set", "model.attention-heads=2", "--set", "model.trunk-depth=1", "--set", "model.mlp-width=32",
                "--set", "optimizer.learning-rate=1e-2", "--set", "optimizer.warmup-steps=2",
                "--set", "training.steps=12", "--set", "training.averaging-frequency=2", "--set", "training.batch-size-per-worker=8",
                "--set", "training.workers=2", "--set", "model.step-threads=1",
                "--set", "training.train-metrics-every=1", "--set", "training.approach=export",
                "--set", "evaluation.every-steps=6", "--set", "logging.every-steps=2", "--set", "checkpoint.every-steps=6",
                "--set", "sample.max-tokens=30", "--set", "sample.prompt=alpha", "--set", "sample.speculative=true");
        assertEquals(0, exit);

        List<MetricsRow> rows = MetricsLog.read(new org.apache.hadoop.fs.Path(run.toString()), new Configuration());
        List<MetricsRow> validation = rows.stream().filter(MetricsRow::isValidation).toList();
        assertEquals(List.of(0L, 6L, 12L), validation.stream().map(MetricsRow::step).toList());
        MetricsRow first = validation.get(0);
        MetricsRow last = validation.get(validation.size() - 1);
        for (int k = 0; k < 3; k++) {
            assertTrue(last.loss()[k] < first.loss()[k] - 0.3, "validation loss of h" + (k + 1) + " should fall: "
                    + first.loss()[k] + " → " + last.loss()[k]);
        }
        assertEquals(6, rows.stream().filter(MetricsRow::isTrain).count());
        String header = Files.readAllLines(run.resolve("metrics.csv")).get(0);
        for (int k = 1; k <= 3; k++) {
            for (String m : new String[]{"loss", "acc", "top5", "ppl"}) {
                assertTrue(header.contains(m + "/h" + k), header);
                assertTrue(Files.readString(run.resolve("metrics.jsonl")).contains("\"" + m + "/h" + k + "\""));
            }
        }
        for (String f : new String[]{"loss.png", "accuracy.png", "report.md", "evaluation.json", "samples.txt"}) {
            assertTrue(Files.size(run.resolve(f)) > 0, f);
        }
        JsonNode eval = new ObjectMapper().readTree(run.resolve("evaluation.json").toFile());
        assertEquals(12, eval.get("step").asInt());
        assertEquals(last.loss()[0], eval.get("loss/h1").asDouble(), 1e-6, "evaluate on the reloaded checkpoint = last validation");
        assertEquals(16, eval.get("acceptance_prompts").asInt());
        for (int j = 2; j <= 3; j++) {
            double accepted = eval.get("acceptance/h" + j).asDouble();
            assertTrue(accepted >= 0 && accepted <= 1, "acceptance/h" + j + " = " + accepted);
            assertTrue(eval.get("expected-tokens-per-forward/k" + j).asDouble() >= 1);
        }

        CheckpointStore.Loaded c = CheckpointStore.resolve(run.toString(), new Configuration());
        assertEquals(12, c.state().step());
        assertEquals(2, new CheckpointStore(new org.apache.hadoop.fs.Path(run.toString()), new Configuration()).list().size());
        List<String> text = GenerateCommand.generate(c, "beta ", 40, 0, 0, 1, 1);
        assertEquals(1, text.size());
        assertFalse(text.get(0).isEmpty());
        assertTrue(Files.readString(run.resolve("samples.txt")).contains("--- sample 1"));
        assertTrue(Files.readString(run.resolve("samples.txt")).contains("tokens per forward; acceptance head 2"),
                "the speculative sample step reports its statistics");
        // Speculative greedy decoding: plain greedy's text, for every k.
        for (int k = 2; k <= 3; k++) {
            List<GenerateCommand.Sample> fast = GenerateCommand.generate(c, "beta ", 40, 0, 0, 1, 1, k);
            assertEquals(text.get(0), fast.get(0).text(), "k = " + k);
            assertTrue(fast.get(0).speculative().forwards() <= fast.get(0).tokens());
        }
        assertError(2, "--draft-heads = 4 is invalid", "generate", "--checkpoint", run.toString(), "--speculative",
                "--draft-heads", "4");
        assertError(2, "--draft-heads = 2 needs --speculative", "generate", "--checkpoint", run.toString(), "--draft-heads", "2");
        assertTrue(Files.isDirectory(run.resolve("tmp")), "DL4J's Export approach wrote its minibatches under run/tmp/export");
        assertFalse(Files.exists(run.resolve("tmp/export")), "exported minibatches are removed after every round");

        // The same pipeline with another n (as after a change of the default configuration) reuses the dataset, whose
        // windows are for n = 3: it fails before training, says how the pipeline re-tokenizes, and changes nothing.
        assertError(2, "or run the pipeline with --overwrite, which re-tokenizes " + dir.resolve("dataset"), "pipeline",
                "--config", "../conf/local.yaml", "--set", "tokenize.inputs=[" + corpus + "]", "--set", "tokenize.tokenizer=char",
                "--set", "data.dataset=" + dir.resolve("dataset"), "--set", "run.output=" + run,
                "--set", "model.context-length=16", "--set", "model.predicted-tokens=2");
        assertEquals(2, new CheckpointStore(new org.apache.hadoop.fs.Path(run.toString()), new Configuration()).list().size());
        assertEquals(12, CheckpointStore.resolve(run.toString(), new Configuration()).state().step());
    }

    @Test
    void badConfigurationAndMissingDatasetFailWithTheirMessages() {
        assertError(2, "unknown key training.stepz", "train", "--config", "../conf/local.yaml", "--set", "training.stepz=3");
        assertError(2, "data.dataset = " + dir.resolve("missing") + " does not exist", "train", "--config", "../conf/local.yaml",
                "--set", "data.dataset=" + dir.resolve("missing"), "--set", "run.output=" + dir.resolve("r"));
        assertError(2, "holds no loadable checkpoint", "generate", "--checkpoint", dir.toString());
        assertError(2, "sample.speculative", "train", "--config", "../conf/local.yaml", "--set", "model.predicted-tokens=1",
                "--set", "sample.speculative=true");
    }
}

package dev.mtpspark.spark.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mtpspark.spark.MtpCli;
import dev.mtpspark.spark.tokenize.TokenizeCommand;
import dev.mtpspark.spark.tokenize.TokenizeJob;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static dev.mtpspark.spark.CliAssertions.assertError;
import static org.junit.jupiter.api.Assertions.*;

/**
 * {@code task-corpus} writes a synthetic task's corpus whole and refuses bad options by name; a model trained on the
 * polynomial corpus is scored by {@code evaluate --task polynomial} (greedy exact match per number of operations,
 * for the trained numbers and two more) into its output JSON.
 */
class TaskScoresTest {
    @TempDir
    static Path dir;

    @Test
    void taskCorpusThenTrainThenEvaluateWithTheTaskScores() throws Exception {
        Path corpus = dir.resolve("poly.txt");
        assertEquals(0, MtpCli.execute("task-corpus", "--task", "polynomial", "--output", corpus.toString(),
                "--examples", "3000", "--ops", "1-2", "--seed", "5"));
        List<String> lines = Files.readAllLines(corpus);
        assertEquals(3000, lines.size());
        assertTrue(lines.stream().allMatch(l -> l.matches("[()x^0-9+*]+=[x^0-9+]+")), lines.get(0));
        assertError(2, "already exists; pass --overwrite", "task-corpus", "--task", "polynomial", "--output", corpus.toString());
        assertError(2, "task = sudoku is invalid: valid values are none, induction, polynomial", "task-corpus", "--task", "sudoku",
                "--output", dir.resolve("x.txt").toString());
        assertError(2, "task ops = many is invalid", "task-corpus", "--task", "polynomial", "--ops", "many",
                "--output", dir.resolve("x.txt").toString());
        assertFalse(Files.exists(dir.resolve("x.txt")), "a refused command writes nothing");

        SparkSession spark = SparkSession.builder().master("local[2]").appName("task-scores-test")
                .config("spark.ui.enabled", "false").getOrCreate();
        TokenizeCommand tokenize = new TokenizeCommand();
        new picocli.CommandLine(tokenize).parseArgs("--input", corpus.toString(), "--tokenizer", "char", "--text-mode", "line",
                "--context-length", Integer.toString(TrainFixtures.T), "--predicted-tokens", Integer.toString(TrainFixtures.N),
                "--output", dir.resolve("dataset").toString());
        TokenizeJob.run(spark, tokenize.config());
        TrainJob.run(spark, TrainFixtures.config(dir.resolve("dataset").toString(), dir.resolve("run"), List.of("training.steps=4",
                "training.averaging-frequency=2", "evaluation.every-steps=4", "logging.every-steps=2", "checkpoint.every-steps=4",
                "evaluation.task=polynomial", "evaluation.task-examples=20", "evaluation.task-ops=1-2")),
                TrainJob.ResumeMode.OVERWRITE);

        // A task this run cannot hold (induction stories need at least 120 characters, the context is 16) fails
        // before training, naming the key, and writes nothing.
        Path refused = dir.resolve("refused-run");
        var bad = assertThrows(dev.mtpspark.spark.tokenize.BadInputException.class, () -> TrainJob.run(spark,
                TrainFixtures.config(dir.resolve("dataset").toString(), refused, List.of("training.steps=4",
                        "training.averaging-frequency=2", "evaluation.every-steps=4", "logging.every-steps=2",
                        "checkpoint.every-steps=4", "evaluation.task=induction")), TrainJob.ResumeMode.OVERWRITE));
        assertTrue(bad.getMessage().contains("evaluation.task = induction cannot be scored on data.dataset")
                && bad.getMessage().contains("too short for a story"), bad.getMessage());
        assertFalse(Files.exists(refused.resolve("metrics.jsonl")) || Files.exists(refused.resolve("checkpoints")),
                "nothing written");

        // evaluation.task: every validation pass (steps 0 and 4) scores the task into the metrics, report and charts.
        List<dev.mtpspark.spark.metrics.MetricsRow> rows = dev.mtpspark.spark.metrics.MetricsLog.read(
                new org.apache.hadoop.fs.Path(dir.resolve("run").toUri()), spark.sparkContext().hadoopConfiguration());
        List<Long> scoredSteps = rows.stream().filter(r -> !r.taskScores().isEmpty()).map(r -> r.step()).toList();
        assertEquals(List.of(0L, 4L), scoredSteps);
        assertTrue(rows.stream().allMatch(r -> r.isValidation() == !r.taskScores().isEmpty()), "validation rows only");
        double trained = rows.get(rows.size() - 1).taskScores().get("task/poly-exact/trained-ops");
        assertTrue(trained >= 0 && trained <= 1, "trained-ops = " + trained);
        assertTrue(Files.readString(dir.resolve("run/report.md")).contains("## Task scores"));
        assertTrue(Files.readString(dir.resolve("run/metrics.csv")).lines().findFirst().orElseThrow()
                .endsWith("task/poly-exact/trained-ops,task/poly-exact/more-ops"));
        assertTrue(Files.size(dir.resolve("run/tasks.png")) > 0);

        Path out = dir.resolve("evaluation.json");
        assertError(2, "task ops = 3-1 is invalid", "evaluate", "--checkpoint", dir.resolve("run").toString(), "--task", "polynomial",
                "--task-ops", "3-1");
        assertEquals(0, MtpCli.execute("evaluate", "--checkpoint", dir.resolve("run").toString(), "--max-windows", "32",
                "--acceptance-prompts", "0", "--task", "polynomial", "--task-examples", "40", "--task-ops", "1-2",
                "--output", out.toString()));
        JsonNode m = new ObjectMapper().readTree(out.toFile());
        for (String key : List.of("task/poly-exact/ops1", "task/poly-exact/ops2", "task/poly-exact/ops3", "task/poly-exact/ops4",
                "task/poly-exact/trained-ops", "task/poly-exact/more-ops")) {
            assertTrue(m.has(key), key + " in " + m);
            double v = m.get(key).asDouble();
            assertTrue(v >= 0 && v <= 1, key + " = " + v);
        }
        assertTrue(m.has("loss/h1"), "the per-horizon figures are still there");
    }
}

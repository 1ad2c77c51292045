package dev.mtpspark.spark.experiment;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mtpspark.core.tasks.PolynomialTask;
import dev.mtpspark.spark.MtpCli;
import dev.mtpspark.spark.tokenize.BadInputException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;

import static dev.mtpspark.spark.CliAssertions.assertError;
import static org.junit.jupiter.api.Assertions.*;

/**
 * An experiment of two arms × two seeds on a tiny model: every run is trained and evaluated (with the polynomial
 * task's scores), the aggregate has both arms with their mean and standard deviation, a second invocation runs
 * nothing that is finished, and a bad plan fails naming its key.
 */
class ExperimentCommandTest {
    @TempDir
    static Path dir;

    private static final String BASE = """
            model: {context-length: 16, model-width: 16, attention-heads: 2, trunk-depth: 1, mlp-width: 32}
            optimizer: {learning-rate: 1.0e-2, min-learning-rate: 1.0e-3, warmup-steps: 2}
            training: {steps: 4, averaging-frequency: 2, batch-size-per-worker: 4, approach: direct, prefetch-batches: 0}
            evaluation: {every-steps: 2, batch-size: 32, max-windows: 32}
            logging: {every-steps: 2}
            checkpoint: {every-steps: 4}
            """;

    @Test
    void runsEveryArmAndSeedOnceAndAggregates() throws Exception {
        Files.writeString(dir.resolve("base.yaml"), BASE);
        Files.writeString(dir.resolve("poly.txt"), PolynomialTask.corpus(1, 1500, 1, 2));
        Path plan = Files.writeString(dir.resolve("plan.yaml"), """
                name: tiny
                output: %s
                config: %s
                seeds: [1, 2]
                tokenize: [--input, %s, --tokenizer, char, --text-mode, line]
                evaluate: {max-windows: "32", task: polynomial, task-ops: "1-2", task-examples: "8"}
                arms:
                  - name: n1
                    set: [model.predicted-tokens=1]
                  - name: n2
                    set: [model.predicted-tokens=2]
                """.formatted(dir.resolve("out"), dir.resolve("base.yaml"), dir.resolve("poly.txt")));
        assertEquals(0, MtpCli.execute("experiment", "--plan", plan.toString()));

        JsonNode results = new ObjectMapper().readTree(dir.resolve("out/results.json").toFile());
        for (String arm : new String[] {"n1", "n2"}) {
            JsonNode a = results.path("arms").path(arm);
            assertEquals(2, a.path("finished_seeds").asInt(), arm);
            assertEquals(2, a.path("runs").size());
            assertNotEquals(a.path("runs").get(0).path("final").path("loss/h1").asDouble(),
                    a.path("runs").get(1).path("final").path("loss/h1").asDouble(), "seeds differ");
            double mean = a.path("summary").path("loss/h1").path("mean").asDouble();
            double std = a.path("summary").path("loss/h1").path("std").asDouble();
            double l1 = a.path("runs").get(0).path("final").path("loss/h1").asDouble();
            double l2 = a.path("runs").get(1).path("final").path("loss/h1").asDouble();
            assertEquals((l1 + l2) / 2, mean, 1e-12);
            assertEquals(Math.abs(l1 - l2) / Math.sqrt(2), std, 1e-12);
            assertTrue(a.path("summary").has("task/poly-exact/ops3"), a.toString());
            assertTrue(a.path("runs").get(0).path("validation_h1").size() >= 2, "a learning curve");
        }
        assertTrue(results.path("arms").path("n2").path("summary").has("loss/h2"));
        assertFalse(results.path("arms").path("n1").path("summary").has("loss/h2"));
        assertTrue(results.path("arms").path("n2").path("runs").get(0).path("parameters").asLong()
                > results.path("arms").path("n1").path("runs").get(0).path("parameters").asLong(), "one more head block");
        String md = Files.readString(dir.resolve("out/results.md"));
        assertTrue(md.contains("| n1 | 1 | 1 |") && md.contains("| n2 | 2 | 1 |"), md);
        assertTrue(Files.size(dir.resolve("out/learning-curves.png")) > 1000);

        // Resumable: nothing finished runs again.
        Path result = dir.resolve("out/runs/n1/seed-1/" + ExperimentCommand.RESULT);
        FileTime before = Files.getLastModifiedTime(result);
        assertEquals(0, MtpCli.execute("experiment", "--plan", plan.toString(), "--only", "n1"));
        assertEquals(before, Files.getLastModifiedTime(result));
        assertError(2, "--only n3: no such arm", "experiment", "--plan", plan.toString(), "--only", "n3");
    }

    @Test
    void badPlansFailNamingTheKey() {
        String ok = "name: x\noutput: /tmp/x\nconfig: c.yaml\nseeds: [1]\n";
        assertBad("arms[1].name = a is listed twice", ok + "arms: [{name: a}, {name: a}]\n");
        assertBad("evaluate.tasks is unknown", ok + "evaluate: {tasks: induction}\narms: [{name: a}]\n");
        assertBad("tokenize: --predicted-tokens is set per arm", ok + "tokenize: [--predicted-tokens, \"2\"]\narms: [{name: a}]\n");
        assertBad("seeds: at least one seed is required", "name: x\noutput: /tmp/x\nconfig: c.yaml\narms: [{name: a}]\n");
        assertBad("Unrecognized field \"armz\"", ok + "arms: [{name: a}]\narmz: []\n");
    }

    private static void assertBad(String message, String yaml) {
        BadInputException e = assertThrows(BadInputException.class, () -> ExperimentPlan.parse(yaml, "plan.yaml"));
        assertTrue(e.getMessage().startsWith("plan.yaml") && e.getMessage().contains(message), e.getMessage());
    }
}

package dev.mtpspark.core.model;

import dev.mtpspark.core.config.HeadArchitecture;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.dataset.api.MultiDataSet;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Model files written by the previous release (checkpoint format 2: the SameDiff implementation, one with
 * {@code headOrder: PER_HEAD} recorded in it) load, compute the logits and score that release computed, and resume
 * training along the same trajectory. The files and their expected numbers were written by that release's
 * {@code MtpModel.save} after two AdamW steps (src/test/resources/checkpoints/README.md).
 */
class CheckpointCompatibilityTest {

    @ParameterizedTest
    @ValueSource(strings = {"format2-parallel", "format2-sequential-perhead"})
    void aPreviousReleasesModelLoadsScoresAndResumes(String name, @TempDir Path dir) throws IOException {
        Path file = dir.resolve(name + ".zip");
        try (InputStream in = resource(name + ".zip")) {
            Files.copy(in, file);
        }
        Map<String, String> expected = expectations(name);
        MtpModel model = MtpModel.load(file.toFile());
        assertEquals(name.contains("sequential") ? HeadArchitecture.SEQUENTIAL : HeadArchitecture.PARALLEL,
                model.config().headArchitecture());
        int[][] windows = parseWindows(expected.get("windows"));
        MultiDataSet batch = MtpBatches.fromWindows(windows, model.config(), DataType.FLOAT);

        float[] logits = model.logits(batch.getFeatures(0)).dup().data().asFloat();
        float[] oldLogits = parseFloats(expected.get("logits"));
        assertEquals(oldLogits.length, logits.length);
        for (int i = 0; i < logits.length; i++) {
            assertEquals(oldLogits[i], logits[i], 2e-5, "logit " + i);
        }
        double score = Double.parseDouble(expected.get("score"));
        assertEquals(score, model.score(batch), 1e-5 * score, "score");

        model.fit(batch);                                         // the updater state and iteration count resume
        assertEquals(Integer.parseInt(expected.get("iteration")), model.graph().getIterationCount());
        double after = Double.parseDouble(expected.get("scoreAfterStep"));
        assertEquals(after, model.score(batch), 1e-4 * after, "score after one more step");
        assertTrue(after < score, "the step lowered the loss");
    }

    private static InputStream resource(String name) {
        InputStream in = CheckpointCompatibilityTest.class.getResourceAsStream("/checkpoints/" + name);
        if (in == null) {
            throw new IllegalStateException("missing test resource /checkpoints/" + name);
        }
        return in;
    }

    private static Map<String, String> expectations(String name) throws IOException {
        Map<String, String> values = new HashMap<>();
        try (InputStream in = resource(name + ".expected")) {
            for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
                int eq = line.indexOf('=');
                if (eq > 0) {
                    values.put(line.substring(0, eq), line.substring(eq + 1));
                }
            }
        }
        return values;
    }

    private static int[][] parseWindows(String text) {
        String[] rows = text.substring(2, text.length() - 2).split("\\], \\[");
        return Arrays.stream(rows).map(r -> Arrays.stream(r.split(", ")).mapToInt(Integer::parseInt).toArray())
                .toArray(int[][]::new);
    }

    private static float[] parseFloats(String text) {
        String[] parts = text.substring(1, text.length() - 1).split(", ");
        float[] values = new float[parts.length];
        for (int i = 0; i < parts.length; i++) {
            values[i] = Float.parseFloat(parts[i]);
        }
        return values;
    }
}

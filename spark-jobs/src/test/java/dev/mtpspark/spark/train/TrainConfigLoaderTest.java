package dev.mtpspark.spark.train;

import dev.mtpspark.core.train.GradientClipping;
import dev.mtpspark.spark.tokenize.BadInputException;
import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.core.LogEvent;
import org.apache.logging.log4j.core.Logger;
import org.apache.logging.log4j.core.appender.AbstractAppender;
import org.apache.logging.log4j.core.config.Property;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TrainConfigLoaderTest {
    private static final String ROOT = System.getProperty("maven.multiModuleProjectDirectory",
            new File("..").getAbsolutePath());

    @TempDir
    Path dir;

    @Test
    void everyShippedConfigurationLoads() {
        File[] files = new File(ROOT, "conf").listFiles((d, name) -> name.endsWith(".yaml"));
        assertTrue(files != null && files.length >= 3, "conf/ should ship local, shakespeare-char and gpu-cluster");
        for (File f : files) {
            TrainConfig c = TrainConfigLoader.load(f.getPath(), List.of());
            assertTrue(c.training().steps() > 0, f.getName());
        }
        TrainConfig recipe = TrainConfigLoader.load(new File(ROOT, "conf/shakespeare-char.yaml").getPath(), List.of());
        assertEquals(2000, recipe.training().steps());
        assertEquals(12, recipe.training().batchSizePerWorker());
        assertEquals(64, recipe.model().contextLength());
        assertEquals(128, recipe.model().modelWidth());
        assertEquals(1e-3, recipe.optimizer().learningRate());
        assertEquals(1e-4, recipe.optimizer().minLearningRate());
        assertEquals(0.0, recipe.model().dropout());
    }

    @Test
    void overridesApplyInOrderAndTheEffectiveConfigurationRoundTrips() throws Exception {
        Path f = write("run: {output: /tmp/x}\ndata: {dataset: /tmp/d}\ntraining: {steps: 100, averaging-frequency: 10}\n");
        TrainConfig c = TrainConfigLoader.load(f.toString(), List.of("training.steps=40", "optimizer.gradient-clipping=none",
                "model.loss-weights=[1, 0.5, 0.25, 0.125]", "evaluation.every-steps=20", "logging.every-steps=10", "checkpoint.every-steps=20"));
        assertEquals(40, c.training().steps());
        assertEquals(GradientClipping.NONE, c.optimizer().gradientClipping());
        assertEquals(List.of(1.0, 0.5, 0.25, 0.125), c.model().lossWeights());
        assertEquals(c, TrainConfigLoader.fromYaml(TrainConfigLoader.toYaml(c), "round trip"));
        assertTrue(TrainConfigLoader.toYaml(c).contains("gradient-clipping: none"));
        assertEquals(0, c.model().toModelConfig(65, 1).stepThreads(), "automatic by default");
        TrainConfig twoShards = TrainConfigLoader.load(f.toString(), List.of("model.step-threads=2"));
        assertEquals(2, twoShards.model().toModelConfig(65, 1).stepThreads());
        assertTrue(TrainConfigLoader.toYaml(twoShards).contains("step-threads: 2"));
    }

    @Test
    void errorsNameTheKeyAndWhatIsValid() throws Exception {
        Path base = write("run: {output: /tmp/x}\ndata: {dataset: /tmp/d}\n");
        assertMessage(base, List.of("optimizer.learning-rat=1"), "unknown key optimizer.learning-rat", "learning-rate");
        assertMessage(base, List.of("optimizer.learning-rate=-1"), "optimizer.learning-rate = -1.0 is invalid", "> 0");
        assertMessage(base, List.of("optimizer.gradient-clipping=global"), "optimizer.gradient-clipping", "l2-per-layer");
        assertMessage(base, List.of("training.steps=many"), "training.steps", "wrong type");
        assertMessage(base, List.of("training.steps=110"), "training.steps = 110 is invalid", "multiple of training.averaging-frequency = 50");
        assertMessage(base, List.of("model.attention-heads=3"), "model.", "attention");
        assertMessage(base, List.of("horizon-weights.start=[1,1]", "horizon-weights.end=[1,0.5]"), "horizon-weights", "one weight per horizon");
        assertMessage(base, List.of("model.step-threads=-1"), "model.step-threads", "0 = every CPU core");
        assertMessage(base, List.of("nosuch.key=1"), "unknown section nosuch", "sections are");
        assertMessage(base, List.of("evaluation.task=sudoku"), "evaluation.task = sudoku is invalid", "none, induction, polynomial");
        assertMessage(base, List.of("evaluation.task-ops=3-1"), "evaluation.task-ops = 3-1 is invalid", "min-max");
        assertMessage(base, List.of("evaluation.task-examples=0"), "evaluation.task-examples = 0 is invalid", "≥ 1");
        assertMessage(base, List.of("steps"), "--set steps is invalid", "key=value");
        assertMessage(write("run: {output: /tmp/x}\n"), List.of(), "data.dataset is required", "");
        assertMessage(write("run: [1, 2\n"), List.of(), "is not valid YAML", "");
        BadInputException missing = assertThrows(BadInputException.class,
                () -> TrainConfigLoader.load(dir.resolve("nope.yaml").toString(), List.of()));
        assertTrue(missing.getMessage().contains("nope.yaml does not exist"), missing.getMessage());
    }

    @Test
    void theRetiredHeadOrderKeyIsAcceptedIgnoredAndWarnedAboutOnce() throws Exception {
        String sections = "run: {output: /tmp/x}\ndata: {dataset: /tmp/d}\n";
        TrainConfig plain = TrainConfigLoader.load(write(sections).toString(), List.of());
        assertFalse(TrainConfigLoader.toYaml(plain).contains("head-order"), "no longer written");

        // A configuration file of the previous release, with an override of the key on top: one WARN line, same config.
        Path old = write(sections + "model:\n  head-order: per-head\n");
        List<String> warnings = warningsOf(() -> assertEquals(plain,
                TrainConfigLoader.load(old.toString(), List.of("model.head-order=all-at-once"))));
        assertEquals(1, warnings.size(), warnings.toString());
        assertTrue(warnings.get(0).contains("model.head-order") && warnings.get(0).contains("no effect")
                && warnings.get(0).contains("one at a time"), warnings.get(0));
        assertTrue(warnings.get(0).contains(old.toString()), "names the file: " + warnings.get(0));

        // Only on the command line, with any value (it is not validated any more).
        Path current = write(sections);
        warnings = warningsOf(() -> assertEquals(plain,
                TrainConfigLoader.load(current.toString(), List.of("model.head-order=sometimes"))));
        assertEquals(1, warnings.size(), warnings.toString());

        // A checkpoint's config.yaml written by the previous release (its toYaml rendered the key).
        String checkpointYaml = TrainConfigLoader.toYaml(plain).replace("  step-threads:", "  head-order: all-at-once\n  step-threads:");
        assertTrue(checkpointYaml.contains("head-order: all-at-once"), checkpointYaml);
        warnings = warningsOf(() -> assertEquals(plain, TrainConfigLoader.fromYaml(checkpointYaml, "checkpoint config.yaml")));
        assertEquals(1, warnings.size(), warnings.toString());
        assertTrue(warnings.get(0).contains("checkpoint config.yaml"), warnings.get(0));

        // Without the key, nothing is logged; other unknown model keys are still errors.
        assertEquals(List.of(), warningsOf(() -> TrainConfigLoader.load(current.toString(), List.of())));
        assertMessage(current, List.of("model.head-ordr=per-head"), "unknown key model.head-ordr", "step-threads");
    }

    /** The WARN lines of {@link TrainConfigLoader} while {@code action} runs. */
    private static List<String> warningsOf(Runnable action) {
        List<String> lines = Collections.synchronizedList(new ArrayList<>());
        AbstractAppender appender = new AbstractAppender("retired-keys-test", null, null, true, Property.EMPTY_ARRAY) {
            @Override
            public void append(LogEvent event) {
                if (event.getLevel().isMoreSpecificThan(Level.WARN)) {
                    lines.add(event.getMessage().getFormattedMessage());
                }
            }
        };
        appender.start();
        Logger logger = (Logger) LogManager.getLogger(TrainConfigLoader.class);
        logger.addAppender(appender);
        try {
            action.run();
        } finally {
            logger.removeAppender(appender);
            appender.stop();
        }
        return new ArrayList<>(lines);
    }

    private void assertMessage(Path file, List<String> overrides, String part1, String part2) {
        BadInputException e = assertThrows(BadInputException.class, () -> TrainConfigLoader.load(file.toString(), overrides),
                "expected an error for " + overrides);
        assertTrue(e.getMessage().contains(part1) && e.getMessage().contains(part2), e.getMessage());
    }

    private Path write(String yaml) throws Exception {
        Path p = Files.createTempFile(dir, "config", ".yaml");
        Files.writeString(p, yaml);
        return p;
    }
}

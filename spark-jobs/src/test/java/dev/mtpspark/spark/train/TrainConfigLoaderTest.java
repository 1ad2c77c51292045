package dev.mtpspark.spark.train;

import dev.mtpspark.core.config.HeadOrder;
import dev.mtpspark.core.train.GradientClipping;
import dev.mtpspark.spark.tokenize.BadInputException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
        assertEquals(HeadOrder.ALL_AT_ONCE, c.model().toModelConfig(65, 1).headOrder());
        TrainConfig perHead = TrainConfigLoader.load(f.toString(), List.of("model.head-order=per-head"));
        assertEquals(HeadOrder.PER_HEAD, perHead.model().toModelConfig(65, 1).headOrder());
        assertTrue(TrainConfigLoader.toYaml(perHead).contains("head-order: per-head"));
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
        assertMessage(base, List.of("model.head-order=sometimes"), "model.head-order", "per-head");
        assertMessage(base, List.of("model.step-threads=-1"), "model.step-threads", "0 = every CPU core");
        assertMessage(base, List.of("nosuch.key=1"), "unknown section nosuch", "sections are");
        assertMessage(base, List.of("steps"), "--set steps is invalid", "key=value");
        assertMessage(write("run: {output: /tmp/x}\n"), List.of(), "data.dataset is required", "");
        assertMessage(write("run: [1, 2\n"), List.of(), "is not valid YAML", "");
        BadInputException missing = assertThrows(BadInputException.class,
                () -> TrainConfigLoader.load(dir.resolve("nope.yaml").toString(), List.of()));
        assertTrue(missing.getMessage().contains("nope.yaml does not exist"), missing.getMessage());
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

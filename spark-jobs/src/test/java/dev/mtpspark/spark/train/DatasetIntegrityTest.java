package dev.mtpspark.spark.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mtpspark.spark.tokenize.BadInputException;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The manifest records every shard; train refuses a truncated, missing or unknown shard with one line naming it. */
class DatasetIntegrityTest {
    @TempDir
    static Path dir;
    private static SparkSession spark;
    private static String dataset;

    @BeforeAll
    static void start() throws Exception {
        spark = SparkSession.builder().master("local[2]").appName("integrity").config("spark.ui.enabled", "false").getOrCreate();
        dataset = TrainFixtures.tokenize(spark, TrainFixtures.corpus(dir), dir.resolve("dataset"));
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    @Test
    void damagedMissingAndStrayShardsFailBeforeTraining() throws Exception {
        JsonNode shards = new ObjectMapper().readTree(Path.of(dataset, "manifest.json").toFile()).get("shards");
        assertTrue(shards.size() >= 2, "both splits have shards: " + shards);
        for (JsonNode s : shards) {
            assertEquals(Files.size(Path.of(dataset, s.get("path").asText())), s.get("bytes").asLong(), s.toString());
        }
        String shard = shards.get(0).get("path").asText();

        Path truncated = copy("truncated");
        try (RandomAccessFile f = new RandomAccessFile(truncated.resolve(shard).toFile(), "rw")) {
            f.setLength(f.length() - 10);
        }
        assertRefused(truncated, "dataset shard " + shard + " is " + (shards.get(0).get("bytes").asLong() - 10)
                + " bytes, the manifest says " + shards.get(0).get("bytes").asLong() + " (damaged or replaced); re-run tokenize");

        Path missing = copy("missing");
        Files.delete(missing.resolve(shard));
        assertRefused(missing, "dataset shard " + shard + " is missing; re-run tokenize");

        Path stray = copy("stray");
        Files.copy(stray.resolve(shard), stray.resolve(shard.replace(".parquet", "-copy.parquet")));
        assertRefused(stray, "is not in the manifest");
    }

    private static void assertRefused(Path dataset, String message) {
        TrainConfig config = TrainFixtures.config(dataset.toString(), dir.resolve("run-" + dataset.getFileName()),
                List.of("training.steps=2", "training.averaging-frequency=2", "evaluation.every-steps=2",
                        "logging.every-steps=2", "checkpoint.every-steps=2"));
        BadInputException e = assertThrows(BadInputException.class, () -> TrainJob.run(spark, config, TrainJob.ResumeMode.OVERWRITE));
        assertTrue(e.getMessage().contains(message), "expected '" + message + "' in: " + e.getMessage());
        assertFalse(e.getMessage().contains("\n"), "one line");
        assertFalse(Files.exists(dir.resolve("run-" + dataset.getFileName())), "nothing written");
    }

    private static Path copy(String name) throws Exception {
        Path target = dir.resolve(name);
        Path source = Path.of(dataset);
        try (Stream<Path> files = Files.walk(source)) {
            for (Path p : files.sorted(Comparator.naturalOrder()).toList()) {
                Path t = target.resolve(source.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(t);
                } else if (!p.getFileName().toString().endsWith(".crc")) {
                    Files.copy(p, t, StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
        return target;
    }
}

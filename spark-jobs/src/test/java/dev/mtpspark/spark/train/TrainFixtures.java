package dev.mtpspark.spark.train;

import dev.mtpspark.spark.tokenize.TokenizeConfig;
import dev.mtpspark.spark.tokenize.TokenizeJob;
import dev.mtpspark.core.data.DocumentReader;
import org.apache.spark.sql.SparkSession;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/** A small learnable corpus, its tokenized dataset and a tiny model configuration for training tests. */
final class TrainFixtures {
    static final int T = 16;
    static final int N = 2;

    private TrainFixtures() {
    }

    /** About 30 KB of sentences from a small grammar: structure a tiny model picks up within a few steps. */
    static Path corpus(Path dir) throws IOException {
        String[] subjects = {"the cat", "a dog", "my friend", "the king", "our queen", "a small bird"};
        String[] verbs = {"sees", "likes", "follows", "calls", "finds"};
        String[] objects = {"the river", "a red apple", "the old house", "its shadow", "the morning sun"};
        Random r = new Random(11);
        StringBuilder b = new StringBuilder();
        while (b.length() < 30_000) {
            b.append(subjects[r.nextInt(subjects.length)]).append(' ').append(verbs[r.nextInt(verbs.length)]).append(' ')
                    .append(objects[r.nextInt(objects.length)]).append(r.nextInt(4) == 0 ? ".\n" : ". ");
        }
        Path file = dir.resolve("corpus.txt");
        Files.writeString(file, b.toString(), StandardCharsets.UTF_8);
        return file;
    }

    static String tokenize(SparkSession spark, Path corpus, Path out) throws IOException {
        TokenizeConfig c = new TokenizeConfig(List.of(corpus.toString()), TokenizeConfig.InputFormat.TEXT,
                DocumentReader.TextMode.FILE, "text", "text", TokenizeConfig.TokenizerType.CHAR, 4096, 2, List.of(), null, null, T, N,
                0.1, TokenizeConfig.SplitMode.AUTO, out.toString(), true, 4, 128L << 20);
        TokenizeJob.run(spark, c);
        return out.toString();
    }

    /** Overrides for a tiny, fast model; callers add run.output, data.dataset and the step plan. */
    static List<String> tinyModel() {
        return new ArrayList<>(List.of(
                "model.context-length=" + T, "model.predicted-tokens=" + N, "model.model-width=16",
                "model.attention-heads=2", "model.trunk-depth=1", "model.mlp-width=32",
                "optimizer.learning-rate=1e-2", "optimizer.min-learning-rate=1e-3", "optimizer.warmup-steps=2",
                "training.batch-size-per-worker=4", "training.approach=direct", "training.prefetch-batches=0",
                "evaluation.batch-size=32", "evaluation.max-windows=64", "sample.max-tokens=20"));
    }

    static TrainConfig config(String dataset, Path output, List<String> more) {
        List<String> o = tinyModel();
        o.add("data.dataset=" + dataset);
        o.add("run.output=" + output);
        o.addAll(more);
        return TrainConfigLoader.load(null, o);
    }
}

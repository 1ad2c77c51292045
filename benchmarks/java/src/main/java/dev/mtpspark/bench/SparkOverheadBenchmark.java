package dev.mtpspark.bench;

import dev.mtpspark.core.config.MtpModelConfig;
import dev.mtpspark.core.model.MtpModel;
import dev.mtpspark.spark.MtpKryoRegistrator;
import dev.mtpspark.spark.tokenize.TokenizeCommand;
import dev.mtpspark.spark.tokenize.TokenizeJob;
import dev.mtpspark.spark.train.DatasetInfo;
import dev.mtpspark.spark.train.TrainConfig;
import dev.mtpspark.spark.train.TrainConfigLoader;
import dev.mtpspark.spark.train.TrainJob;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.SparkConf;
import org.apache.spark.sql.SparkSession;
import org.nd4j.linalg.api.buffer.DataType;
import picocli.CommandLine;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * What training through Spark costs on top of plain local {@code fit}: the same number of training tokens
 * for the n = 4 shakespeare-char recipe model (3 trunk blocks + 4 heads, width 128, T 64, batch 12)
 * (a) with plain {@code MtpModel.fit} on the driver JVM, (b) through {@link TrainJob} on Spark
 * {@code local[1]} with one worker and each averaging frequency given, (c) on {@code local[2]} with two
 * workers and half the steps each, (d) plain fit again with two threads per step (two batch shards). (a) uses
 * one thread per step, as every Spark task here does ({@code spark.task.cpus} = 1).
 *
 * <p>The Spark runs switch the training metrics off ({@code training.train-metrics-every=0}) and set the
 * logging, evaluation and checkpoint intervals to the run length. The job still validates at step 0 and at
 * the end (limited to {@code evaluation.max-windows=64}) and writes one checkpoint; those are outside
 * {@code TrainJob.Result.trainSeconds}, which sums the rounds only (batch building on the executors,
 * DL4J's fit, parameter averaging, the finiteness check). Both that and the whole job's wall time are
 * reported; efficiency is tokens/s over the rounds relative to (a). (a) runs first and again last, to
 * bracket drift of the machine; the reference rate is the mean of the two.
 *
 * <p>Usage: {@code SparkOverheadBenchmark <corpus.txt> <results.json> [steps=120] [local1Frequencies=20,40]
 * [local2Frequencies=20]}
 */
public final class SparkOverheadBenchmark {
    private static final int T = 64;
    private static final int N = 4;
    private static final int BATCH = 12;

    private SparkOverheadBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        Path corpus = Path.of(args[0]);
        Path results = Path.of(args[1]);
        int steps = args.length > 2 ? Integer.parseInt(args[2]) : 120;
        int[] local1 = args.length > 3 ? ints(args[3]) : new int[]{20, 40};
        int[] local2 = args.length > 4 ? ints(args[4]) : new int[]{20};
        long tokens = (long) steps * BATCH * T;

        Map<String, Object> out = Bench.resultHeader("spark-overhead", "benchmarks/spark-overhead.sh " + String.join(" ", Arrays.copyOfRange(args, 2, args.length)));
        out.put("model", "n=4 shakespeare-char recipe: vocab of the char dataset, T 64, width 128, 4 attention heads, MLP 512, "
                + "trunk 3 + 4 parallel heads, batch 12 per worker, AdamW nanoGPT recipe");
        out.put("trainingTokens", tokens);
        out.put("method", "(a) plain MtpModel.fit on the driver JVM on a non-main thread (like an executor thread), model.step-threads 1 like every Spark task here, random windows, batch building included, run first and last; (d) the same with step-threads 2 (two batch shards); "
                + "(b)/(c) TrainJob.run, approach=direct, prefetch-batches=2, train-metrics-every=0, logging/evaluation/checkpoint "
                + "every = steps, evaluation.max-windows=64; roundSeconds = TrainJob.Result.trainSeconds (rounds only: excludes "
                + "dataset indexing, the 2 validation passes, the checkpoint, charts and report); jobSeconds = wall time of TrainJob.run; "
                + "efficiency = tokens/s over rounds divided by the mean (a) tokens/s");

        Path dir = Files.createTempDirectory("spark-overhead-bench");
        String dataset = dir.resolve("dataset").toString();

        // The dataset: tinyshakespeare, char tokenizer, windows of T + n.
        SparkSession spark = session("local[2]");
        long t0 = System.nanoTime();
        TokenizeCommand cmd = new TokenizeCommand();
        new CommandLine(cmd).parseArgs("--input", corpus.toString(), "--tokenizer", "char", "--context-length", String.valueOf(T),
                "--predicted-tokens", String.valueOf(N), "--output", dataset, "--partitions", "2");
        TokenizeJob.run(spark, cmd.config());
        System.out.printf("dataset tokenized in %.1f s: %s%n", (System.nanoTime() - t0) / 1e9, dataset);
        int vocab = DatasetInfo.read(dataset, new Configuration()).vocabSize();
        spark.stop();

        List<Map<String, Object>> rows = new ArrayList<>();
        TrainConfig recipe = config(dataset, dir.resolve("plain").toString(), steps, 1, local1.length > 0 ? local1[0] : steps);
        // One thread per step, as every Spark task here (spark.task.cpus = 1, model.step-threads 0 → 1), so (a)
        // and (b) do the same compute and differ only by Spark; (d) is plain fit with both cores (two batch shards).
        MtpModelConfig modelConfig = recipe.model().toModelConfig(vocab, recipe.run().seed()).toBuilder().stepThreads(1).build();

        plain(recipe, modelConfig, Math.min(10, steps));                            // JVM/JIT/ND4J warm-up, discarded
        double plainFirst = plain(recipe, modelConfig, steps);
        System.out.printf("(a) plain fit: %d steps in %.1f s, %.0f tokens/s%n", steps, plainFirst, tokens / plainFirst);
        rows.add(row("(a) plain fit, first", "-", 1, steps, 0, tokens, plainFirst, plainFirst, 0, null));

        List<Object[]> sparkRuns = new ArrayList<>();
        for (int f : local1) {
            sparkRuns.add(new Object[]{"local[1]", 1, f});
        }
        for (int f : local2) {
            sparkRuns.add(new Object[]{"local[2]", 2, f});
        }
        List<double[]> measured = new ArrayList<>();
        for (Object[] r : sparkRuns) {
            String master = (String) r[0];
            int workers = (Integer) r[1];
            int f = (Integer) r[2];
            int perWorker = steps / workers;
            TrainConfig c = config(dataset, dir.resolve("run-" + workers + "-" + f).toString(), perWorker, workers, f);
            SparkSession s = session(master);
            long j0 = System.nanoTime();
            TrainJob.Result result = TrainJob.run(s, c, TrainJob.ResumeMode.OVERWRITE);
            double job = (System.nanoTime() - j0) / 1e9;
            s.stop();
            if (result.tokensSeen() != tokens) {
                throw new IllegalStateException("run saw " + result.tokensSeen() + " tokens, expected " + tokens);
            }
            measured.add(new double[]{job, result.trainSeconds()});
            System.out.printf("(%s) %s, %d worker(s) x %d steps, averaging every %d: rounds %.1f s, job %.1f s%n",
                    workers == 1 ? "b" : "c", master, workers, perWorker, f, result.trainSeconds(), job);
        }

        double plainLast = plain(recipe, modelConfig, steps);
        System.out.printf("(a) plain fit again: %d steps in %.1f s, %.0f tokens/s%n", steps, plainLast, tokens / plainLast);
        double plainRate = tokens / ((plainFirst + plainLast) / 2);
        rows.get(0).put("efficiency", Bench.round(tokens / plainFirst / plainRate, 3));

        for (int i = 0; i < sparkRuns.size(); i++) {
            Object[] r = sparkRuns.get(i);
            int workers = (Integer) r[1];
            int f = (Integer) r[2];
            int perWorker = steps / workers;
            double job = measured.get(i)[0];
            double rounds = measured.get(i)[1];
            int roundCount = perWorker / f;
            // Time beyond what plain fit needs for the same tokens, per round (meaningful for one worker only:
            // two workers share the two cores, so their compute time is not the plain time).
            Double perRound = workers == 1 ? (rounds - tokens / plainRate) / roundCount : null;
            rows.add(row((workers == 1 ? "(b) " : "(c) ") + "TrainJob " + r[0], (String) r[0], workers, perWorker, f, tokens,
                    rounds, job, roundCount, perRound));
            rows.get(rows.size() - 1).put("efficiency", Bench.round(tokens / rounds / plainRate, 3));
            rows.get(rows.size() - 1).put("jobEfficiency", Bench.round(tokens / job / plainRate, 3));
        }
        Map<String, Object> last = row("(a) plain fit, last", "-", 1, steps, 0, tokens, plainLast, plainLast, 0, null);
        last.put("efficiency", Bench.round(tokens / plainLast / plainRate, 3));
        rows.add(last);
        double twoThreads = plain(recipe, modelConfig.toBuilder().stepThreads(2).build(), steps);
        System.out.printf("(d) plain fit, two threads: %d steps in %.1f s, %.0f tokens/s%n", steps, twoThreads, tokens / twoThreads);
        Map<String, Object> shards = row("(d) plain fit, 2 threads (batch shards)", "-", 1, steps, 0, tokens, twoThreads, twoThreads, 0, null);
        shards.put("efficiency", Bench.round(tokens / twoThreads / plainRate, 3));
        rows.add(shards);
        out.put("plainTokensPerSecondMean", Bench.round(plainRate, 0));
        out.put("runs", rows);
        out.put("loadAverageAtEnd", Bench.loadAverage());

        System.out.printf("%n%,d training tokens each (%d x batch %d x T %d); reference (a) = %.0f tokens/s (mean of first and last)%n",
                tokens, steps, BATCH, T, plainRate);
        System.out.println("| run | workers x steps | averaging freq. | rounds | round time s | tokens/s (rounds) | efficiency | job wall s | efficiency incl. job | extra s per round |");
        System.out.println("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        for (Map<String, Object> r : rows) {
            System.out.printf("| %s | %s x %s | %s | %s | %s | %s | %s | %s | %s | %s |%n", r.get("run"), r.get("workers"), r.get("stepsPerWorker"),
                    r.get("averagingFrequency"), r.get("rounds"), r.get("roundSeconds"), r.get("tokensPerSecond"), r.get("efficiency"),
                    r.get("jobSeconds"), r.getOrDefault("jobEfficiency", "-"), r.getOrDefault("extraSecondsPerRound", "-"));
        }
        Bench.writeJson(results, out);
        System.out.println("results written to " + results);
    }

    private static Map<String, Object> row(String name, String master, int workers, int perWorker, int f, long tokens,
                                           double rounds, double job, int roundCount, Double perRound) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("run", name);
        m.put("master", master);
        m.put("workers", workers);
        m.put("stepsPerWorker", perWorker);
        m.put("averagingFrequency", f == 0 ? "-" : f);
        m.put("rounds", roundCount == 0 ? "-" : roundCount);
        m.put("roundSeconds", Bench.round(rounds, 1));
        m.put("tokensPerSecond", Math.round(tokens / rounds));
        m.put("jobSeconds", Bench.round(job, 1));
        if (perRound != null) {
            m.put("extraSecondsPerRound", Bench.round(perRound, 2));
        }
        return m;
    }

    /** Plain local training on the driver: seconds for {@code steps} fit calls, batch building included. */
    private static double plain(TrainConfig recipe, MtpModelConfig modelConfig, int steps) throws Exception {
        return Bench.offMainThread(() -> plainHere(recipe, modelConfig, steps));
    }

    private static double plainHere(TrainConfig recipe, MtpModelConfig modelConfig, int steps) {
        MtpModel model = MtpModel.create(modelConfig, recipe.optimizerSettings(), DataType.FLOAT);
        Random r = new Random(recipe.run().seed());
        long t0 = System.nanoTime();
        for (int i = 0; i < steps; i++) {
            model.fit(TrainStepBenchmark.randomBatch(r, BATCH, modelConfig));
        }
        return (System.nanoTime() - t0) / 1e9;
    }

    private static TrainConfig config(String dataset, String output, int steps, int workers, int frequency) {
        return TrainConfigLoader.load(null, List.of(
                "data.dataset=" + dataset, "run.output=" + output,
                "model.context-length=" + T, "model.predicted-tokens=" + N, "model.model-width=128", "model.attention-heads=4",
                "model.trunk-depth=3", "model.mlp-width=512", "model.dropout=0",
                "optimizer.warmup-steps=" + Math.min(100, steps / 10), "optimizer.decay-steps=" + steps,
                "training.steps=" + steps, "training.batch-size-per-worker=" + BATCH, "training.workers=" + workers,
                "training.averaging-frequency=" + frequency, "training.approach=direct", "training.train-metrics-every=0",
                "logging.every-steps=" + steps, "evaluation.every-steps=" + steps, "evaluation.max-windows=64",
                "evaluation.batch-size=64", "checkpoint.every-steps=" + steps, "checkpoint.keep=1"));
    }

    private static SparkSession session(String master) {
        SparkConf conf = new SparkConf().setAppName("spark-overhead-benchmark").setMaster(master)
                .set("spark.serializer", "org.apache.spark.serializer.KryoSerializer")
                .set("spark.kryo.registrator", MtpKryoRegistrator.withOurs(null))
                .set("spark.ui.enabled", "false").set("spark.ui.showConsoleProgress", "false");
        return SparkSession.builder().config(conf).getOrCreate();
    }

    private static int[] ints(String csv) {
        return csv.isBlank() ? new int[0] : Arrays.stream(csv.split(",")).mapToInt(Integer::parseInt).toArray();
    }
}

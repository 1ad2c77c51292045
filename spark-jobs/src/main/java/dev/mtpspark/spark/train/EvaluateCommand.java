package dev.mtpspark.spark.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mtpspark.core.generate.DraftAcceptance;
import dev.mtpspark.core.stats.HorizonStats;
import dev.mtpspark.spark.CommandRunner;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code evaluate}: per-horizon loss, accuracy, top-5 and perplexity of a checkpoint on a dataset split; with
 * n ≥ 2, also how often each extra head's draft would be accepted in greedy self-speculative decoding.
 */
@Command(name = "evaluate", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Per-horizon metrics of a checkpoint on a dataset split, computed on the executors and merged on the driver; "
                + "for n ≥ 2 also the drafting heads' acceptance on the model's own greedy continuations (on the driver).")
public final class EvaluateCommand implements Callable<Integer> {
    @Option(names = "--checkpoint", required = true, description = "A checkpoint directory, or a run directory (its newest good checkpoint).")
    String checkpoint;

    @Option(names = "--dataset", description = "Tokenized dataset (default: the one the checkpoint was trained on).")
    String dataset;

    @Option(names = "--split", defaultValue = "validation", description = "Split to evaluate (default: ${DEFAULT-VALUE}).")
    String split;

    @Option(names = "--max-windows", defaultValue = "0", description = "Evaluate at most this many windows (0 = all).")
    long maxWindows;

    @Option(names = "--batch-size", defaultValue = "64", description = "Windows per forward pass (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--output", description = "Also write the figures as JSON to this path (any Hadoop path).")
    String output;

    @Option(names = "--acceptance-prompts", defaultValue = "16", description = "Windows of the split whose first T/4 tokens "
            + "are continued greedily to measure the drafting heads' acceptance; 0 = skip (default: ${DEFAULT-VALUE}).")
    int acceptancePrompts;

    @Option(names = "--task", defaultValue = "none", description = "Also score a synthetic task on held-out examples, on the "
            + "driver: none, induction or polynomial (default: ${DEFAULT-VALUE}; the corpus comes from task-corpus).")
    String task;

    @Option(names = "--task-examples", defaultValue = "200", description = "Held-out stories or problems (default: ${DEFAULT-VALUE}).")
    int taskExamples;

    @Option(names = "--task-seed", defaultValue = "1000003", description = "Seed of the held-out examples; not the corpus's "
            + "(default: ${DEFAULT-VALUE}).")
    long taskSeed;

    @Option(names = "--task-ops", defaultValue = "1-3", description = "For polynomial: the numbers of operations trained on, "
            + "min-max; scored for these and two more (default: ${DEFAULT-VALUE}).")
    String taskOps;

    @Option(names = "--task-max-chars", defaultValue = "240", description = "For induction: the longest held-out story "
            + "(default: ${DEFAULT-VALUE}; at most T − 1).")
    int taskMaxChars;

    @Override
    public Integer call() throws Exception {
        int[] ops = TaskScores.Spec.ops(taskOps);
        TaskScores.Spec taskSpec = new TaskScores.Spec(task, taskExamples, taskSeed, ops[0], ops[1], taskMaxChars);
        SparkSession spark = CommandRunner.sparkSession("mtp-spark evaluate");
        try {
            CheckpointStore.Loaded c = CheckpointStore.resolve(checkpoint, spark.sparkContext().hadoopConfiguration());
            String datasetPath = dataset != null ? dataset : trainedOn(c);
            if (acceptancePrompts < 0) {
                throw new dev.mtpspark.spark.tokenize.BadInputException("--acceptance-prompts = " + acceptancePrompts + " is invalid: must be ≥ 0");
            }
            HorizonStats stats = evaluate(spark, c, datasetPath, split, maxWindows, batchSize);
            DraftAcceptance.Result acceptance = acceptance(spark, c, datasetPath, split, acceptancePrompts, batchSize);
            System.out.printf("evaluate: %s on %s split of %s%n", c.path(), split, datasetPath);
            System.out.print(TrainCommand.table(stats));
            if (acceptance != null) {
                System.out.print(acceptanceTable(acceptance));
            }
            Map<String, Double> taskScores = TaskScores.score(taskSpec, c.model(), GenerateCommand.tokenizer(c));
            if (!taskScores.isEmpty()) {
                System.out.printf("  task %s on %d held-out examples (seed %d):%n", task, taskExamples, taskSeed);
                System.out.print(TaskScores.table(taskScores));
            }
            if (output != null) {
                writeFigures(stats, acceptance, taskScores, c, split, new Path(output), spark.sparkContext().hadoopConfiguration());
                System.out.println("  written to  " + output);
            }
            return 0;
        } finally {
            spark.stop();
        }
    }

    /** The dataset a checkpoint was trained on, from the configuration saved with it. */
    static String trainedOn(CheckpointStore.Loaded c) {
        return TrainConfigLoader.fromYaml(c.configYaml(), c.path().toString()).data().dataset();
    }

    /** Evaluates a loaded checkpoint on a split; {@code datasetPath} null means the checkpoint's own dataset. */
    public static HorizonStats evaluate(SparkSession spark, CheckpointStore.Loaded c, String datasetPath, String split,
                                        long maxWindows, int batchSize) throws IOException {
        String path = datasetPath != null ? datasetPath : trainedOn(c);
        DatasetInfo ds = DatasetInfo.read(path, spark.sparkContext().hadoopConfiguration());
        ds.checkFits(c.model().config(), split);
        ds.checkShards(spark.sparkContext().hadoopConfiguration());
        if (ds.vocabSize() != c.model().config().vocabSize()) {
            throw new dev.mtpspark.spark.tokenize.BadInputException("--dataset " + path + " has a vocabulary of " + ds.vocabSize()
                    + " ids, the checkpoint's model " + c.model().config().vocabSize());
        }
        JavaRDD<int[]> windows = ds.windows(spark, split);
        if (maxWindows > 0) {
            windows = windows.zipWithIndex().filter(t -> t._2() < maxWindows).map(scala.Tuple2::_1);
        }
        return HorizonEvaluator.evaluate(JavaSparkContext.fromSparkContext(spark.sparkContext()), c.model().graph(),
                c.model().config(), windows, batchSize);
    }

    /**
     * The drafting heads' acceptance on the model's own greedy continuations of the first {@code prompts} windows
     * of the split (prompts of T/4 tokens), measured on the driver; null for n = 1 or {@code prompts} 0.
     */
    public static DraftAcceptance.Result acceptance(SparkSession spark, CheckpointStore.Loaded c, String datasetPath,
                                                    String split, int prompts, int batchSize) throws IOException {
        if (prompts == 0 || c.model().config().predictedTokens() < 2) {
            return null;
        }
        String path = datasetPath != null ? datasetPath : trainedOn(c);
        DatasetInfo ds = DatasetInfo.read(path, spark.sparkContext().hadoopConfiguration());
        java.util.List<int[]> windows = ds.windows(spark, split).take(prompts);
        int promptLength = Math.max(1, c.model().config().contextLength() / 4);
        return DraftAcceptance.measure(c.model(), windows, promptLength, batchSize);
    }

    /** Per drafting head: agreement with the greedy continuation, acceptance in the chain, expected tokens per pass. */
    public static String acceptanceTable(DraftAcceptance.Result a) {
        StringBuilder b = new StringBuilder(String.format(java.util.Locale.ROOT,
                "  self-speculative drafting on %d greedy continuations:%n  head      agrees   accepted  tokens/forward with heads 2..k%n",
                a.prompts()));
        for (int j = 2; j <= a.heads(); j++) {
            b.append(String.format(java.util.Locale.ROOT, "  h%-7d %-8.4f %-9.4f %.3f%n", j, a.agreement(j), a.acceptance(j),
                    a.expectedTokensPerForward(j)));
        }
        return b.toString();
    }

    /** {@link #writeFigures(HorizonStats, DraftAcceptance.Result, CheckpointStore.Loaded, String, Path, Configuration)} without acceptance. */
    public static void writeFigures(HorizonStats s, CheckpointStore.Loaded c, String split, Path out, Configuration conf)
            throws IOException {
        writeFigures(s, null, c, split, out, conf);
    }

    /** Writes the per-horizon figures (and the drafting heads' acceptance, if measured) as JSON (any Hadoop path). */
    public static void writeFigures(HorizonStats s, DraftAcceptance.Result acceptance, CheckpointStore.Loaded c, String split,
                                    Path out, Configuration conf) throws IOException {
        writeFigures(s, acceptance, Map.of(), c, split, out, conf);
    }

    /** As above, with the synthetic task's scores ({@link TaskScores}). */
    public static void writeFigures(HorizonStats s, DraftAcceptance.Result acceptance, Map<String, Double> taskScores,
                                    CheckpointStore.Loaded c, String split, Path out, Configuration conf) throws IOException {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("checkpoint", c.path().toString());
        m.put("step", c.state().step());
        m.put("tokens_seen", c.state().tokensSeen());
        m.put("split", split);
        for (int k = 1; k <= s.horizons(); k++) {
            m.put("loss/h" + k, s.loss(k));
            m.put("acc/h" + k, s.accuracy(k));
            m.put("top5/h" + k, s.top5(k));
            m.put("ppl/h" + k, s.perplexity(k));
            m.put("tokens/h" + k, s.tokens(k));
        }
        if (acceptance != null) {
            m.put("acceptance_prompts", acceptance.prompts());
            for (int j = 2; j <= acceptance.heads(); j++) {
                m.put("self-agreement/h" + j, acceptance.agreement(j));
                m.put("acceptance/h" + j, acceptance.acceptance(j));
                m.put("expected-tokens-per-forward/k" + j, acceptance.expectedTokensPerForward(j));
            }
        }
        m.putAll(taskScores);
        try (OutputStream o = out.getFileSystem(conf).create(out, true)) {
            o.write(new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(m).getBytes(StandardCharsets.UTF_8));
        }
    }

    public static void main(String[] args) {
        System.exit(CommandRunner.execute(new EvaluateCommand(), args));
    }
}

package dev.mtpspark.spark.experiment;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mtpspark.core.stats.HorizonStats;
import dev.mtpspark.spark.CommandRunner;
import dev.mtpspark.spark.metrics.HadoopFiles;
import dev.mtpspark.spark.metrics.MetricsLog;
import dev.mtpspark.spark.metrics.MetricsRow;
import dev.mtpspark.spark.tokenize.BadInputException;
import dev.mtpspark.spark.tokenize.TokenizeCommand;
import dev.mtpspark.spark.tokenize.TokenizeJob;
import dev.mtpspark.spark.train.CheckpointStore;
import dev.mtpspark.spark.train.EvaluateCommand;
import dev.mtpspark.spark.train.GenerateCommand;
import dev.mtpspark.spark.train.TaskScores;
import dev.mtpspark.spark.train.TrainConfig;
import dev.mtpspark.spark.train.TrainConfigLoader;
import dev.mtpspark.spark.train.TrainJob;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.SparkSession;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code experiment}: runs every arm × seed of an {@link ExperimentPlan} in one Spark application — tokenize once
 * per (T, n), train, evaluate the final checkpoint (with the plan's synthetic task, if any) — and writes one result
 * file per run, then the aggregate ({@link ExperimentReport}). Resumable: a run whose result file exists is not run
 * again, so a killed experiment continues where it stopped (a run cut short restarts from scratch).
 */
@Command(name = "experiment", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Run an experiment plan (arms × seeds: tokenize once, train, evaluate) and write results.json, "
                + "results.md and learning-curves.png.")
public final class ExperimentCommand implements Callable<Integer> {
    private static final Logger LOG = LoggerFactory.getLogger(ExperimentCommand.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    static final String RESULT = "experiment-result.json";

    @Option(names = "--plan", required = true, description = "The experiment plan (YAML, any Hadoop path).")
    String plan;

    @Option(names = "--only", split = ",", description = "Run only these arms (the report still covers every finished run).")
    List<String> only;

    @Option(names = "--report-only", description = "Run nothing; aggregate the finished runs.")
    boolean reportOnly;

    @Override
    public Integer call() throws Exception {
        Configuration hadoop = new Configuration();
        Path planPath = new Path(plan);
        FileSystem planFs = planPath.getFileSystem(hadoop);
        if (!planFs.exists(planPath)) {
            throw new BadInputException("--plan " + plan + " does not exist");
        }
        String yaml;
        try (var in = planFs.open(planPath)) {
            yaml = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        ExperimentPlan p = ExperimentPlan.parse(yaml, plan);
        if (only != null) {
            for (String a : only) {
                if (p.arms().stream().noneMatch(arm -> arm.name().equals(a))) {
                    throw new BadInputException("--only " + a + ": no such arm; the plan has "
                            + p.arms().stream().map(ExperimentPlan.Arm::name).toList());
                }
            }
        }
        for (ExperimentPlan.Arm arm : p.arms()) {       // every configuration is checked before anything runs
            config(p, arm, p.seeds().get(0));
        }
        if (!reportOnly) {
            SparkSession spark = CommandRunner.sparkSession("mtp-spark experiment " + p.name());
            try {
                for (ExperimentPlan.Arm arm : p.arms()) {
                    if (only != null && !only.contains(arm.name())) {
                        continue;
                    }
                    for (long seed : p.seeds()) {
                        runOnce(spark, p, arm, seed);
                    }
                }
            } finally {
                spark.stop();
            }
        }
        ExperimentReport report = ExperimentReport.collect(p, hadoop);
        report.write(hadoop);
        System.out.print(report.markdown());
        return 0;
    }

    static Path runDir(ExperimentPlan p, ExperimentPlan.Arm arm, long seed) {
        return new Path(p.output(), "runs/" + arm.name() + "/seed-" + seed);
    }

    static TrainConfig config(ExperimentPlan p, ExperimentPlan.Arm arm, long seed) {
        List<String> o = new ArrayList<>(p.set());
        if (arm.set() != null) {
            o.addAll(arm.set());
        }
        // T and n name the arm's dataset, so read them first (with this run's output, which the loader requires).
        List<String> first = new ArrayList<>(o);
        first.add("run.output=" + runDir(p, arm, seed));
        first.add("data.dataset=" + new Path(p.output(), "datasets"));
        TrainConfig probe = TrainConfigLoader.load(p.config(), first);
        Path dataset = new Path(p.output(), "datasets/T" + probe.model().contextLength() + "-n" + probe.model().predictedTokens());
        o.add("run.seed=" + seed);
        o.add("data.dataset=" + dataset);
        o.add("run.output=" + runDir(p, arm, seed));
        return TrainConfigLoader.load(p.config(), o);
    }

    private static void runOnce(SparkSession spark, ExperimentPlan p, ExperimentPlan.Arm arm, long seed) throws IOException {
        Configuration hadoop = spark.sparkContext().hadoopConfiguration();
        Path dir = runDir(p, arm, seed);
        FileSystem fs = dir.getFileSystem(hadoop);
        if (fs.exists(new Path(dir, RESULT))) {
            LOG.info("experiment {}: {} seed {} is done already ({}), skipped", p.name(), arm.name(), seed, new Path(dir, RESULT));
            return;
        }
        TrainConfig cfg = config(p, arm, seed);
        ensureDataset(spark, p, cfg);
        long start = System.nanoTime();
        LOG.info("experiment {}: training {} seed {} → {}", p.name(), arm.name(), seed, dir);
        TrainJob.Result trained = TrainJob.run(spark, cfg, TrainJob.ResumeMode.OVERWRITE);
        CheckpointStore.Loaded c = CheckpointStore.resolve(trained.checkpoint().toString(), hadoop);
        HorizonStats v = EvaluateCommand.evaluate(spark, c, null, "validation",
                Long.parseLong(p.evaluateOption("max-windows", "0")), cfg.evaluation().batchSize());
        int[] ops = TaskScores.Spec.ops(p.evaluateOption("task-ops", "1-3"));
        TaskScores.Spec task = new TaskScores.Spec(p.evaluateOption("task", "none"),
                Integer.parseInt(p.evaluateOption("task-examples", "200")), Long.parseLong(p.evaluateOption("task-seed", "1000003")),
                ops[0], ops[1], Integer.parseInt(p.evaluateOption("task-max-chars", "240")));
        Map<String, Double> scores = TaskScores.score(task, c.model(), GenerateCommand.tokenizer(c));

        ObjectNode r = JSON.createObjectNode();
        r.put("arm", arm.name());
        r.put("seed", seed);
        r.put("parameters", c.model().parameterCounts().total());
        r.put("predicted_tokens", cfg.model().predictedTokens());
        r.put("trunk_depth", cfg.model().trunkDepth());
        r.put("head_architecture", cfg.model().headArchitecture().toString());
        r.put("steps", trained.step());
        r.put("tokens_seen", trained.tokensSeen());
        r.put("train_seconds", trained.trainSeconds());
        r.put("run_seconds", (System.nanoTime() - start) / 1e9);
        ObjectNode metrics = r.putObject("final");
        for (int k = 1; k <= v.horizons(); k++) {
            metrics.put("loss/h" + k, v.loss(k));
            metrics.put("acc/h" + k, v.accuracy(k));
        }
        scores.forEach(metrics::put);
        var curve = r.putArray("validation_h1");
        for (MetricsRow row : MetricsLog.read(dir, hadoop)) {
            if (row.isValidation()) {
                curve.addObject().put("tokens_seen", row.tokensSeen()).put("loss", row.loss()[0]);
            }
        }
        HadoopFiles.writeAtomically(fs, new Path(dir, RESULT), JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(r));
        LOG.info("experiment {}: {} seed {} done in {} s: validation h1 {}", p.name(), arm.name(), seed,
                Math.round((System.nanoTime() - start) / 1e9), String.format(java.util.Locale.ROOT, "%.4f", v.loss(1)));
    }

    private static void ensureDataset(SparkSession spark, ExperimentPlan p, TrainConfig cfg) throws IOException {
        Path dataset = new Path(cfg.data().dataset());
        if (dataset.getFileSystem(spark.sparkContext().hadoopConfiguration()).exists(new Path(dataset, TokenizeJob.MANIFEST))) {
            return;
        }
        List<String> args = new ArrayList<>(p.tokenize());
        args.addAll(List.of("--context-length", Integer.toString(cfg.model().contextLength()),
                "--predicted-tokens", Integer.toString(cfg.model().predictedTokens()), "--output", dataset.toString(), "--overwrite"));
        TokenizeCommand t = new TokenizeCommand();
        try {
            new CommandLine(t).parseArgs(args.toArray(String[]::new));
        } catch (CommandLine.ParameterException e) {
            throw new BadInputException("tokenize: " + e.getMessage());
        }
        TokenizeJob.run(spark, t.config());
    }

    static JsonNode readResult(Path file, Configuration conf) throws IOException {
        try (var in = file.getFileSystem(conf).open(file)) {
            return JSON.readTree(in);
        }
    }

    public static void main(String[] args) {
        System.exit(CommandRunner.execute(new ExperimentCommand(), args));
    }
}

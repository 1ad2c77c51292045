package dev.mtpspark.spark.train;

import dev.mtpspark.core.stats.HorizonStats;
import dev.mtpspark.spark.CommandRunner;
import dev.mtpspark.spark.tokenize.BadInputException;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code train}: parameter-averaged MTP training on a tokenized dataset (see docs/training.md). */
@Command(name = "train", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Train the multi-token prediction model on a tokenized dataset with Spark parameter averaging.")
public final class TrainCommand implements Callable<Integer> {
    @Option(names = "--config", description = "YAML configuration file (any Hadoop path); defaults apply to missing keys.")
    String config;

    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "Override one key, e.g. --set training.steps=500; repeatable.")
    List<String> overrides = new ArrayList<>();

    @Option(names = "--resume", description = "Continue from the newest good checkpoint in run.output; fail if there is none. "
            + "(Without --resume or --overwrite, a run with checkpoints is continued automatically.)")
    boolean resume;

    @Option(names = "--overwrite", description = "Delete run.output and start fresh.")
    boolean overwrite;

    @Option(names = "--init-from", description = "Start a new run from a model directory (written by export, or GPT-2-layout "
            + "safetensors whose shapes fit the model): the same as --set run.init-from=DIR.")
    String initFrom;

    @Option(names = "--init-heads", description = "With --init-from, heads the directory lacks start as copies of head 1 "
            + "(copy, the default) or fresh: the same as --set run.init-heads=….")
    String initHeads;

    @Option(names = "--stop-after-step", description = "End this session at that step (after its checkpoint); resume later.")
    Long stopAfterStep;

    @Option(names = "--dry-run", description = "Validate configuration, dataset and run directory, print the plan, and exit without training.")
    boolean dryRun;

    @Override
    public Integer call() throws Exception {
        List<String> all = new ArrayList<>(overrides);
        if (initFrom != null) {
            all.add("run.init-from=" + initFrom);
        }
        if (initHeads != null) {
            all.add("run.init-heads=" + initHeads);
        }
        TrainConfig cfg = TrainConfigLoader.load(config, all);
        TrainJob.ResumeMode mode = mode(resume, overwrite);
        if (dryRun) {
            System.out.print(TrainPlan.describe(cfg, mode, new org.apache.hadoop.conf.Configuration()));
            return 0;
        }
        SparkSession spark = CommandRunner.sparkSession("mtp-spark train");
        try {
            TrainJob.Result r = TrainJob.run(spark, cfg, mode, stopAfterStep == null ? Long.MAX_VALUE : stopAfterStep);
            System.out.println(summary(r));
            return 0;
        } finally {
            spark.stop();
        }
    }

    static TrainJob.ResumeMode mode(boolean resume, boolean overwrite) {
        if (resume && overwrite) {
            throw new BadInputException("--resume and --overwrite exclude each other");
        }
        return resume ? TrainJob.ResumeMode.REQUIRE : overwrite ? TrainJob.ResumeMode.OVERWRITE : TrainJob.ResumeMode.AUTO;
    }

    /** The lines printed at the end of a run: where everything is, and the final validation figures. */
    public static String summary(TrainJob.Result r) {
        StringBuilder b = new StringBuilder("train: done\n");
        b.append(String.format(Locale.ROOT, "  steps        %d (%,d tokens, %.1f s training, %.0f tokens/s)%n",
                r.step(), r.tokensSeen(), r.trainSeconds(), r.tokensPerSecond()));
        if (r.validation() != null) {
            b.append(table(r.validation()));
        }
        b.append("  checkpoint   ").append(r.checkpoint()).append('\n');
        b.append("  metrics      ").append(r.metricsJsonl()).append(", ").append(r.metricsCsv()).append('\n');
        b.append("  charts       ").append(r.charts()).append('\n');
        b.append("  report       ").append(r.report()).append('\n');
        return b.toString();
    }

    /** A per-horizon table of validation statistics. */
    public static String table(HorizonStats s) {
        StringBuilder b = new StringBuilder("  horizon   loss     ppl      top-1    top-5    tokens\n");
        for (int k = 1; k <= s.horizons(); k++) {
            b.append(String.format(Locale.ROOT, "  h%-7d %-8.4f %-8.2f %-8.4f %-8.4f %d%n", k, s.loss(k), s.perplexity(k),
                    s.accuracy(k), s.top5(k), s.tokens(k)));
        }
        return b.toString();
    }

    public static void main(String[] args) {
        System.exit(CommandRunner.execute(new TrainCommand(), args));
    }
}

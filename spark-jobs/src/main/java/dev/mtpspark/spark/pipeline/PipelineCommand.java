package dev.mtpspark.spark.pipeline;

import dev.mtpspark.core.generate.DraftAcceptance;
import dev.mtpspark.core.stats.HorizonStats;
import dev.mtpspark.spark.CommandRunner;
import dev.mtpspark.spark.tokenize.BadInputException;
import dev.mtpspark.spark.tokenize.TokenizeConfig;
import dev.mtpspark.spark.tokenize.TokenizeJob;
import dev.mtpspark.spark.train.CheckpointStore;
import dev.mtpspark.spark.train.DatasetInfo;
import dev.mtpspark.spark.train.EvaluateCommand;
import dev.mtpspark.spark.train.GenerateCommand;
import dev.mtpspark.spark.train.TrainCommand;
import dev.mtpspark.spark.train.TrainConfig;
import dev.mtpspark.spark.train.TrainConfigLoader;
import dev.mtpspark.spark.train.TrainJob;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.SparkSession;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code pipeline}: tokenize → train → evaluate → sample in one Spark application, from one configuration
 * file (its {@code tokenize} section names the corpus). The README's first command runs it on
 * {@code conf/local.yaml}.
 */
@Command(name = "pipeline", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Tokenize the corpus, train, evaluate the final checkpoint and write samples, from one configuration.")
public final class PipelineCommand implements Callable<Integer> {
    private static final Logger LOG = LoggerFactory.getLogger(PipelineCommand.class);

    @Option(names = "--config", required = true, description = "YAML configuration with a tokenize section (any Hadoop path).")
    String config;

    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "Override one key; repeatable.")
    List<String> overrides = new ArrayList<>();

    @Option(names = "--overwrite", description = "Re-tokenize and retrain from scratch, replacing data.dataset and run.output.")
    boolean overwrite;

    @Option(names = "--dry-run", description = "Validate the configuration and the corpus, print the plan, and exit.")
    boolean dryRun;

    /**
     * A dataset kept from an earlier run (for example of an earlier default configuration) whose windows do not fit
     * the model fails before training, saying how the pipeline itself re-tokenizes; nothing is deleted implicitly.
     */
    private void checkReusedDatasetFits(TrainConfig cfg, Configuration hadoop) {
        try {
            DatasetInfo dataset = DatasetInfo.read(cfg.data().dataset(), hadoop);
            dataset.checkFits(cfg.model().toModelConfig(dataset.vocabSize(), cfg.run().seed()), cfg.data().trainSplit());
        } catch (BadInputException e) {
            throw new BadInputException(e.getMessage() + "; or run the pipeline with --overwrite, which re-tokenizes "
                    + cfg.data().dataset() + " and retrains " + cfg.run().output() + " from scratch");
        }
    }

    @Override
    public Integer call() throws Exception {
        TrainConfig cfg = TrainConfigLoader.load(config, overrides);
        TokenizeConfig tokenize = tokenizeConfig(cfg, overwrite);
        if (dryRun) {
            Configuration hadoop = new Configuration();
            Path dataset = new Path(cfg.data().dataset());
            boolean reuse = !overwrite && dataset.getFileSystem(hadoop).exists(new Path(dataset, TokenizeJob.MANIFEST));
            System.out.print(reuse ? "tokenize: reuses the existing dataset " + dataset + "\n"
                    : TokenizeJob.plan(tokenize.withOverwrite(true), hadoop));
            if (reuse) {
                System.out.print(dev.mtpspark.spark.train.TrainPlan.describe(cfg,
                        TrainJob.ResumeMode.AUTO, hadoop));
            } else {
                System.out.println("train: planned after tokenize (model " + cfg.model().modelWidth() + " wide, "
                        + cfg.model().trunkDepth() + " trunk blocks, n = " + cfg.model().predictedTokens() + ", "
                        + cfg.training().steps() + " steps × " + cfg.training().workers() + " workers) → " + cfg.run().output());
            }
            return 0;
        }
        SparkSession spark = CommandRunner.sparkSession("mtp-spark pipeline");
        try {
            Configuration hadoop = spark.sparkContext().hadoopConfiguration();
            Path dataset = new Path(cfg.data().dataset());
            FileSystem fs = dataset.getFileSystem(hadoop);
            if (!overwrite && fs.exists(new Path(dataset, TokenizeJob.MANIFEST))) {
                LOG.info("[1/4] tokenize: reusing the existing dataset {} (--overwrite re-tokenizes)", dataset);
                checkReusedDatasetFits(cfg, hadoop);
            } else {
                LOG.info("[1/4] tokenize: {} → {}", tokenize.inputs(), dataset);
                TokenizeJob.run(spark, tokenize);
            }
            LOG.info("[2/4] train");
            TrainJob.Result r = TrainJob.run(spark, cfg, overwrite ? TrainJob.ResumeMode.OVERWRITE : TrainJob.ResumeMode.AUTO);

            LOG.info("[3/4] evaluate the final checkpoint {} (reloaded from storage)", r.checkpoint());
            CheckpointStore.Loaded c = CheckpointStore.load(r.checkpoint(), hadoop);
            HorizonStats validation = EvaluateCommand.evaluate(spark, c, null, cfg.data().validationSplit(),
                    cfg.evaluation().maxWindows(), cfg.evaluation().batchSize());
            DraftAcceptance.Result acceptance = EvaluateCommand.acceptance(spark, c, null, cfg.data().validationSplit(),
                    cfg.evaluation().acceptancePrompts(), cfg.evaluation().batchSize());
            Path evaluation = new Path(r.runDir(), "evaluation.json");
            EvaluateCommand.writeFigures(validation, acceptance, c, cfg.data().validationSplit(), evaluation, hadoop);

            TrainConfig.Sample s = cfg.sample();
            LOG.info("[4/4] sample {} text(s) from head 1{}", s.count(), s.speculative() ? ", speculative" : "");
            List<GenerateCommand.Sample> samples = GenerateCommand.generate(c, s.prompt(), s.maxTokens(), s.temperature(),
                    s.topK(), s.count(), cfg.run().seed(), s.speculative() ? s.draftHeads() : -1);
            StringBuilder text = new StringBuilder();
            for (int i = 0; i < samples.size(); i++) {
                text.append("--- sample ").append(i + 1).append(" (temperature ").append(s.temperature()).append(", top-k ")
                        .append(s.topK()).append(") ---\n").append(s.prompt()).append(samples.get(i).text()).append("\n")
                        .append("--- ").append(samples.get(i).statistics()).append("\n");
            }
            Path samplesPath = new Path(r.runDir(), "samples.txt");
            write(samplesPath, hadoop, text.toString());

            System.out.print(TrainCommand.summary(r));
            if (acceptance != null) {
                System.out.print(EvaluateCommand.acceptanceTable(acceptance));
            }
            System.out.println("  evaluation   " + evaluation);
            System.out.println("  samples      " + samplesPath);
            System.out.println();
            System.out.println(text);
            return 0;
        } finally {
            spark.stop();
        }
    }

    /** The tokenize job's settings from the configuration's tokenize section and the model's T and n. */
    static TokenizeConfig tokenizeConfig(TrainConfig cfg, boolean overwrite) {
        TrainConfig.Tokenize t = cfg.tokenize();
        if (t == null || t.inputs().isEmpty()) {
            throw new BadInputException("tokenize.inputs is required by the pipeline command: the corpus files, directories or globs");
        }
        return new TokenizeConfig(t.inputs(), t.format(), t.textMode(), t.jsonField(), t.parquetColumn(), t.tokenizer(),
                t.bpeVocabSize(), t.bpeMinFrequency(), t.bpeSpecialTokens(), t.tokenizerFile(), t.eosToken(), cfg.model().contextLength(), cfg.model().predictedTokens(),
                t.validationFraction(), t.split(), cfg.data().dataset(), overwrite, t.partitions(), t.splitBytes());
    }

    private static void write(Path p, Configuration conf, String text) throws IOException {
        try (OutputStream out = p.getFileSystem(conf).create(p, true)) {
            out.write(text.getBytes(StandardCharsets.UTF_8));
        }
    }

    public static void main(String[] args) {
        System.exit(CommandRunner.execute(new PipelineCommand(), args));
    }
}

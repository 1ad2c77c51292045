package dev.mtpspark.spark.train;

import dev.mtpspark.core.config.MtpModelConfig;
import dev.mtpspark.core.model.HorizonWeightSchedule;
import dev.mtpspark.core.model.MtpModel;
import dev.mtpspark.core.stats.HorizonStats;
import dev.mtpspark.core.train.OptimizerSettings;
import dev.mtpspark.core.train.WindowOrder;
import dev.mtpspark.spark.metrics.MetricsCharts;
import dev.mtpspark.spark.metrics.MetricsLog;
import dev.mtpspark.spark.metrics.MetricsRow;
import dev.mtpspark.spark.metrics.TrainingReport;
import dev.mtpspark.spark.tokenize.BadInputException;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.storage.StorageLevel;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.spark.api.RDDTrainingApproach;
import org.deeplearning4j.spark.api.Repartition;
import org.deeplearning4j.spark.impl.graph.SparkComputationGraph;
import org.deeplearning4j.spark.impl.paramavg.ParameterAveragingTrainingMaster;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.api.MultiDataSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import scala.Tuple2;

import java.io.IOException;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

/**
 * The training job: parameter-averaged data-parallel training of the MTP model on a tokenized dataset, with
 * per-horizon metrics aggregated on the driver, checkpoints, and resume.
 *
 * <p>Training proceeds in rounds. A round hands {@code workers × averaging-frequency} minibatches to DL4J's
 * {@link ParameterAveragingTrainingMaster}: each worker fits its F minibatches, the driver averages parameters
 * and Adam state, and DL4J advances the iteration count (which drives the learning-rate schedule) by F. Between
 * rounds the driver logs, validates, checkpoints and applies the horizon-weight schedule — training listeners
 * would run on the executors, so all of that lives here.
 */
public final class TrainJob {
    private static final Logger LOG = LoggerFactory.getLogger(TrainJob.class);

    /** What to do with an existing run directory. */
    public enum ResumeMode {
        /** Continue from the newest good checkpoint if there is one, else start fresh. */
        AUTO,
        /** Continue from the newest good checkpoint; fail if there is none. */
        REQUIRE,
        /** Delete the run directory and start fresh. */
        OVERWRITE
    }

    /** Where a finished run left its outputs. */
    public record Result(Path runDir, Path checkpoint, long step, long tokensSeen, HorizonStats validation,
                         double trainSeconds, double tokensPerSecond, List<Path> charts, Path report,
                         Path metricsJsonl, Path metricsCsv) {
    }

    private TrainJob() {
    }

    public static Result run(SparkSession spark, TrainConfig config, ResumeMode mode) throws IOException {
        return run(spark, config, mode, Long.MAX_VALUE);
    }

    /**
     * Runs (or continues) training; {@code stopAfterStep} ends the run early at that step, after its
     * checkpoint, as if the job had been stopped there (for tests and for splitting a run into time slots).
     */
    public static Result run(SparkSession spark, TrainConfig config, ResumeMode mode, long stopAfterStep) throws IOException {
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        Configuration hadoop = spark.sparkContext().hadoopConfiguration();
        TrainConfig.Training tc = config.training();
        DatasetInfo dataset = DatasetInfo.read(config.data().dataset(), hadoop);
        MtpModelConfig modelConfig = config.model().toModelConfig(dataset.vocabSize(), config.run().seed());
        dataset.checkFits(modelConfig, config.data().trainSplit());
        dataset.checkFits(modelConfig, config.data().validationSplit());
        dataset.checkShards(hadoop);
        String configYaml = TrainConfigLoader.toYaml(config);
        LOG.info("effective configuration:\n{}", configYaml);

        // A model directory to start from is read and checked before anything in run.output is touched.
        MtpModel initial = config.run().initFrom() == null ? null
                : InitialWeights.load(config.run().initFrom(), config.run().initHeads(), modelConfig, config.optimizerSettings(),
                dataset, hadoop);
        Path runDir = new Path(config.run().output());
        FileSystem fs = runDir.getFileSystem(hadoop);
        if (initial != null && mode != ResumeMode.OVERWRITE && !new CheckpointStore(runDir, hadoop).list().isEmpty()) {
            throw new BadInputException("run.init-from = " + config.run().initFrom() + " starts a new run, but run.output = "
                    + runDir + " holds checkpoints; add --overwrite to discard them, or choose another run.output");
        }
        if (mode == ResumeMode.OVERWRITE && fs.exists(runDir)) {
            LOG.info("deleting the existing run directory {} (--overwrite)", runDir);
            fs.delete(runDir, true);
        }
        CheckpointStore store = new CheckpointStore(runDir, hadoop);
        Optional<CheckpointStore.Loaded> resumed = mode == ResumeMode.OVERWRITE ? Optional.empty() : store.loadLatest();
        if (mode == ResumeMode.REQUIRE && resumed.isEmpty()) {
            throw new BadInputException("--resume: " + runDir + " holds no loadable checkpoint");
        }

        boolean gpuRequested = tc.requireGpu()
                || Double.parseDouble(jsc.getConf().get("spark.executor.resource.gpu.amount", "0")) > 0;
        BackendProbe.check(jsc, tc.workers(), gpuRequested);

        // The training windows, indexed once and cached; rounds select from them by position.
        JavaRDD<int[]> trainWindows = dataset.windows(spark, config.data().trainSplit());
        JavaPairRDD<Long, int[]> indexed = trainWindows.zipWithIndex().mapToPair(t -> new Tuple2<>(t._2(), t._1()))
                .persist(StorageLevel.MEMORY_AND_DISK_SER());
        long trainCount = indexed.count();
        JavaRDD<int[]> validationWindows = validationWindows(dataset, spark, config);

        MtpModel model;
        TrainState state;
        if (resumed.isPresent()) {
            CheckpointStore.Loaded c = resumed.get();
            // The batch shards only change how a step is computed, so a run may switch them when it resumes.
            if (!c.model().config().toBuilder().stepThreads(modelConfig.stepThreads()).build().equals(modelConfig)) {
                throw new BadInputException("run.output = " + runDir + " holds a run of a different model (checkpoint "
                        + c.path() + " has " + c.model().config() + ", the configuration asks for " + modelConfig
                        + "); choose another run.output, or --overwrite to discard it");
            }
            if (c.state().trainWindows() != trainCount) {
                throw new BadInputException("run.output = " + runDir + " was trained on a dataset with " + c.state().trainWindows()
                        + " training windows, data.dataset = " + dataset.path() + " has " + trainCount
                        + "; resuming would not continue the same data order. Use the original dataset or --overwrite");
            }
            model = c.model().withStepThreads(modelConfig.stepThreads());
            state = c.state();
            LOG.info("resuming from {} at step {} ({} tokens seen)", c.path(), state.step(), state.tokensSeen());
        } else {
            model = initial != null ? initial : MtpModel.create(modelConfig, config.optimizerSettings(), DataType.FLOAT);
            state = new TrainState(TrainState.FORMAT_VERSION, 0, 0, 0, trainCount, config.run().seed(), 0, model.lossWeights());
            LOG.info("new model: {}", model.parameterCounts());
        }
        if (modelConfig.stepThreads() == 0) {
            // A Spark task owns spark.task.cpus cores of its executor, not every core: the executor runs as many
            // tasks as it has cores for them, each training its own copy of the model.
            int taskCpus = spark.sparkContext().conf().getInt("spark.task.cpus", 1);
            model = model.withStepThreads(taskCpus);
            LOG.info("model.step-threads: 0 → {} (spark.task.cpus) threads per training step", taskCpus);
        }
        ComputationGraph graph = model.graph();
        graph.getConfiguration().setIterationCount((int) state.step());
        model.setLossWeights(state.lossWeights());

        // The synthetic task (evaluation.task) is scored on the driver with each validation pass. A few examples
        // are scored now, before anything is written, so that a task the dataset's tokenizer or the model's context
        // cannot hold fails here rather than at the first validation pass (after training, when resuming).
        TaskScores.Spec taskSpec = config.evaluation().taskSpec();
        dev.mtpspark.core.data.Tokenizer taskTokenizer = taskSpec.task().equals("none") ? null : dataset.tokenizer();
        Function<MtpModel, Map<String, Double>> taskScorer = taskTokenizer == null ? m -> Map.of()
                : m -> TaskScores.score(taskSpec, m, taskTokenizer);
        if (taskTokenizer != null) {
            try {
                TaskScores.score(taskSpec.withExamples(Math.min(taskSpec.examples(), 20)), model, taskTokenizer);
            } catch (BadInputException e) {
                throw new BadInputException("evaluation.task = " + taskSpec.task() + " cannot be scored on data.dataset = "
                        + dataset.path() + ": " + e.getMessage());
            }
        }

        int n = modelConfig.predictedTokens();
        MetricsLog metrics = MetricsLog.open(runDir, hadoop, n, resumed.isPresent() ? state.step() : -1);
        HorizonStatsAccumulator trainStats = new HorizonStatsAccumulator(n);
        jsc.sc().register(trainStats, "mtp-train-horizon-stats");
        Path exportDir = new Path(tc.exportDirectory().isEmpty() ? new Path(runDir, "tmp/export").toString() : tc.exportDirectory());
        WorkerStepHook hook = new WorkerStepHook(trainStats, tc.trainMetricsEvery());
        ParameterAveragingTrainingMaster master = new ParameterAveragingTrainingMaster.Builder(tc.workers(), tc.batchSizePerWorker())
                .batchSizePerWorker(tc.batchSizePerWorker())
                .averagingFrequency(tc.averagingFrequency())
                .workerPrefetchNumBatches(tc.prefetchBatches())
                .saveUpdater(true)                                          // the Builder's default is false
                .rddTrainingApproach(tc.approach() == TrainConfig.Approach.EXPORT ? RDDTrainingApproach.Export : RDDTrainingApproach.Direct)
                .storageLevel(StorageLevel.fromString(tc.storageLevel()))
                .exportDirectory(exportDir.toString())
                .repartionData(Repartition.NumPartitionsWorkersDiffers)     // RoundBatches already gives one partition per worker
                .rngSeed(config.run().seed())
                .trainingHooks(hook)
                .build();
        SparkComputationGraph sparkNet = new SparkComputationGraph(jsc, graph, master);

        WindowOrder order = new WindowOrder(trainCount, config.run().seed());
        HorizonWeightSchedule weightSchedule = config.horizonWeights().schedule(n);
        OptimizerSettings optimizer = config.optimizerSettings();
        ProgressReporter progress = new ProgressReporter(tc.steps(), state.step(), n);
        long step = state.step();
        long position = state.dataPosition();
        long tokens = state.tokensSeen();
        double elapsed = state.elapsedSeconds();
        int windowsPerRound = tc.workers() * tc.averagingFrequency() * tc.batchSizePerWorker();
        Path lastCheckpoint = resumed.map(CheckpointStore.Loaded::path).orElse(null);
        HorizonStats lastValidation = null;

        if (step == 0) {
            lastValidation = validate(jsc, graph, modelConfig, validationWindows, config, metrics, 0, 0, optimizer, 0, progress, model,
                    taskScorer);
        }
        long intervalTokens = 0;
        double intervalSeconds = 0;
        trainStats.reset();
        while (step < tc.steps() && step < stopAfterStep) {
            if (weightSchedule != null) {
                model.setLossWeights(weightSchedule.weightsAt(step));
            }
            hook.setFirstIteration(step);                                   // see WorkerStepHook: DL4J's worker loses the count
            long t0 = System.nanoTime();
            JavaRDD<MultiDataSet> round = RoundBatches.build(jsc, indexed, order, position, tc.workers(),
                    tc.averagingFrequency(), tc.batchSizePerWorker(), modelConfig);
            sparkNet.fitMultiDataSet(round);
            round.unpersist(false);                                         // DL4J persists Direct rounds and never releases them
            if (tc.approach() == TrainConfig.Approach.EXPORT) {
                exportDir.getFileSystem(hadoop).delete(exportDir, true);    // a fresh export per round; keep the disk clean
            }
            double seconds = (System.nanoTime() - t0) / 1e9;
            step += tc.averagingFrequency();
            position += windowsPerRound;
            tokens += (long) windowsPerRound * modelConfig.contextLength();
            elapsed += seconds;
            intervalSeconds += seconds;
            intervalTokens += (long) windowsPerRound * modelConfig.contextLength();
            graph.getConfiguration().setIterationCount((int) step);
            checkFinite(sparkNet.getScore(), graph.params(), step, lastCheckpoint);

            boolean last = step >= tc.steps() || step >= stopAfterStep;
            if (step % config.logging().everySteps() == 0 || last) {
                HorizonStats s = trainStats.value();
                double tps = intervalSeconds > 0 ? intervalTokens / intervalSeconds : 0;
                double lr = optimizer.learningRateAt(step - 1);
                if (s.tokens(1) > 0) {
                    metrics.append(MetricsRow.of("train", step, tokens, lr, tps, elapsed, s, model.lossWeights()));
                }
                progress.trainLine(step, s, sparkNet.getScore(), lr, tps, elapsed);
                trainStats.reset();
                intervalTokens = 0;
                intervalSeconds = 0;
            }
            if (step % config.evaluation().everySteps() == 0 || last) {
                lastValidation = validate(jsc, graph, modelConfig, validationWindows, config, metrics, step, tokens,
                        optimizer, elapsed, progress, model, taskScorer);
            }
            metrics.flush();
            if (step % config.checkpoint().everySteps() == 0 || last) {
                TrainState now = new TrainState(TrainState.FORMAT_VERSION, step, tokens, position, trainCount,
                        config.run().seed(), elapsed, model.lossWeights());
                lastCheckpoint = store.save(model, now, configYaml, dataset.tokenizerJson(), dataset.manifestJson(),
                        config.checkpoint().keep());
                LOG.info("checkpoint {} written", lastCheckpoint);
            }
        }
        metrics.flush();
        List<MetricsRow> rows = metrics.rows();
        List<Path> charts = MetricsCharts.render(rows, runDir, hadoop);
        Path report = TrainingReport.write(rows, "mtp-spark training run " + runDir, runDir, hadoop);
        indexed.unpersist(false);
        validationWindows.unpersist(false);
        double tokensPerSecond = elapsed > 0 ? tokens / elapsed : 0;
        return new Result(runDir, lastCheckpoint, step, tokens, lastValidation, elapsed, tokensPerSecond, charts, report,
                new Path(runDir, "metrics.jsonl"), new Path(runDir, "metrics.csv"));
    }

    private static JavaRDD<int[]> validationWindows(DatasetInfo dataset, SparkSession spark, TrainConfig config) {
        JavaRDD<int[]> windows = dataset.windows(spark, config.data().validationSplit());
        long max = config.evaluation().maxWindows();
        if (max > 0) {
            windows = windows.zipWithIndex().filter(t -> t._2() < max).map(Tuple2::_1);
        }
        return windows.coalesce(Math.max(1, config.training().workers())).persist(StorageLevel.MEMORY_AND_DISK_SER());
    }

    private static HorizonStats validate(JavaSparkContext jsc, ComputationGraph graph, MtpModelConfig modelConfig,
                                         JavaRDD<int[]> windows, TrainConfig config, MetricsLog metrics, long step,
                                         long tokens, OptimizerSettings optimizer, double elapsed,
                                         ProgressReporter progress, MtpModel model,
                                         Function<MtpModel, Map<String, Double>> taskScorer) throws IOException {
        long t0 = System.nanoTime();
        HorizonStats stats = HorizonEvaluator.evaluate(jsc, graph, modelConfig, windows, config.evaluation().batchSize());
        double seconds = (System.nanoTime() - t0) / 1e9;
        progress.validationLine(step, stats, seconds);
        long t1 = System.nanoTime();
        Map<String, Double> taskScores = taskScorer.apply(model);
        if (!taskScores.isEmpty()) {
            progress.taskLine(step, config.evaluation().task(), taskScores, (System.nanoTime() - t1) / 1e9);
        }
        double lr = optimizer.learningRateAt(Math.max(0, step - 1));
        metrics.append(MetricsRow.of("validation", step, tokens, lr, 0, elapsed, stats, model.lossWeights())
                .withTaskScores(taskScores));
        metrics.flush();
        return stats;
    }

    private static void checkFinite(double score, INDArray params, long step, Path lastCheckpoint) {
        double sum = params.sumNumber().doubleValue();
        if (!Double.isFinite(score) || !Double.isFinite(sum)) {
            throw new TrainingDivergedException("training diverged at step " + step + ": "
                    + (!Double.isFinite(score) ? "loss = " + score : "parameters contain NaN/Inf")
                    + ". No checkpoint was written after this point; the last good one is "
                    + (lastCheckpoint == null ? "none (no checkpoint yet)" : lastCheckpoint)
                    + ". Lower optimizer.learning-rate, raise optimizer.warmup-steps or enable optimizer.gradient-clipping.");
        }
    }

    static String weights(double[] w) {
        return Arrays.toString(w);
    }
}

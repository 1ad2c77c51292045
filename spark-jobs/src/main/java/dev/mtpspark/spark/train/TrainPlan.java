package dev.mtpspark.spark.train;

import dev.mtpspark.core.config.MtpModelConfig;
import dev.mtpspark.core.model.MtpModel;
import dev.mtpspark.core.train.OptimizerSettings;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;

import java.io.IOException;
import java.util.List;
import java.util.Locale;

/**
 * What a training run would do, computed without Spark and without training: validates the configuration,
 * the dataset and the run directory, and describes the model, the data and the schedule ({@code --dry-run}).
 */
public final class TrainPlan {
    private TrainPlan() {
    }

    /** The plan as text; throws {@link dev.mtpspark.spark.tokenize.BadInputException} for anything invalid. */
    public static String describe(TrainConfig config, TrainJob.ResumeMode mode, Configuration hadoop) throws IOException {
        DatasetInfo dataset = DatasetInfo.read(config.data().dataset(), hadoop);
        MtpModelConfig model = config.model().toModelConfig(dataset.vocabSize(), config.run().seed());
        dataset.checkFits(model, config.data().trainSplit());
        dataset.checkFits(model, config.data().validationSplit());
        TrainConfig.Training t = config.training();
        OptimizerSettings opt = config.optimizerSettings();
        long trainWindows = dataset.windows(config.data().trainSplit());
        long tokens = config.tokensPerStep() * t.steps();
        CheckpointStore store = new CheckpointStore(new Path(config.run().output()), hadoop);
        List<Path> checkpoints = mode == TrainJob.ResumeMode.OVERWRITE ? List.of() : store.list();
        if (mode == TrainJob.ResumeMode.REQUIRE && checkpoints.isEmpty()) {
            throw new dev.mtpspark.spark.tokenize.BadInputException("--resume: " + config.run().output() + " holds no checkpoint");
        }
        StringBuilder b = new StringBuilder("train: dry run — configuration, dataset and run directory are valid; nothing was trained\n");
        b.append(String.format(Locale.ROOT, "  dataset      %s: %,d training windows, %,d validation windows, vocabulary %d%n",
                dataset.path(), trainWindows, dataset.windows(config.data().validationSplit()), dataset.vocabSize()));
        b.append(String.format(Locale.ROOT, "  model        T = %d, n = %d (%s heads), %d trunk blocks × %d wide, %s%n",
                model.contextLength(), model.predictedTokens(), model.headArchitecture().name().toLowerCase(Locale.ROOT),
                model.trunkDepth(), model.modelWidth(), MtpModel.create(model).parameterCounts()));
        b.append(String.format(Locale.ROOT, "  training     %d steps × %d workers × batch %d = %,d tokens (%.2f epochs); %d rounds of %d steps (%s)%n",
                t.steps(), t.workers(), t.batchSizePerWorker(), tokens,
                (double) t.steps() * t.workers() * t.batchSizePerWorker() / trainWindows, t.steps() / t.averagingFrequency(),
                t.averagingFrequency(), t.approach().name().toLowerCase(Locale.ROOT)));
        b.append(String.format(Locale.ROOT, "  optimizer    AdamW lr %.2e → %.2e (warm-up %d, cosine to step %d), weight decay %s, clipping %s%n",
                opt.learningRate(), opt.minLearningRate(), opt.warmupSteps(), opt.decaySteps(), opt.weightDecay(),
                opt.clipping().name().toLowerCase(Locale.ROOT).replace('_', '-')));
        b.append(String.format(Locale.ROOT, "  output       %s: %s%n", config.run().output(), checkpoints.isEmpty()
                ? (mode == TrainJob.ResumeMode.OVERWRITE ? "replaced (--overwrite), training starts at step 0" : "no checkpoint, training starts at step 0")
                : "resumes from " + checkpoints.get(0) + " (or an older one if it is damaged)"));
        b.append(String.format(Locale.ROOT, "  every        log %d, validate %d, checkpoint %d steps (keep %d)%n",
                config.logging().everySteps(), config.evaluation().everySteps(), config.checkpoint().everySteps(), config.checkpoint().keep()));
        return b.toString();
    }
}

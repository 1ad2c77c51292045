package dev.mtpspark.spark.train;

import dev.mtpspark.core.config.HeadArchitecture;
import dev.mtpspark.core.config.InvalidConfigException;
import dev.mtpspark.core.config.MtpModelConfig;
import dev.mtpspark.core.config.NormType;
import dev.mtpspark.core.config.PositionalEncoding;
import dev.mtpspark.core.model.HorizonWeightSchedule;
import dev.mtpspark.core.train.GradientClipping;
import dev.mtpspark.core.train.OptimizerSettings;
import dev.mtpspark.spark.tokenize.BadInputException;
import dev.mtpspark.spark.tokenize.TokenizeConfig;

import java.io.Serializable;
import java.util.List;

/**
 * The typed, validated configuration of the training pipeline, bound from YAML by {@link TrainConfigLoader}.
 * Keys are kebab-case in the file ({@code optimizer.learning-rate}); every validation error names the full key.
 *
 * @param run        output directory and seed
 * @param data       the tokenized dataset to train on
 * @param model      architecture (T and n must match the dataset's windows)
 * @param optimizer  AdamW, learning-rate schedule, clipping
 * @param horizonWeights optional per-horizon loss-weight schedule
 * @param training   steps and parameter-averaging settings
 * @param evaluation validation passes
 * @param logging    progress lines and training metrics
 * @param checkpoint checkpoint interval and retention
 * @param sample     text generation after training (pipeline) and defaults for {@code generate}
 * @param tokenize   corpus settings, used only by the {@code pipeline} command
 */
public record TrainConfig(Run run, Data data, Model model, Optimizer optimizer, HorizonWeights horizonWeights,
                          Training training, Evaluation evaluation, Logging logging, Checkpoint checkpoint,
                          Sample sample, Tokenize tokenize) implements Serializable {

    public TrainConfig {
        require(run, "run");
        require(data, "data");
        require(model, "model");
        require(optimizer, "optimizer");
        require(horizonWeights, "horizon-weights");
        require(training, "training");
        require(evaluation, "evaluation");
        require(logging, "logging");
        require(checkpoint, "checkpoint");
        require(sample, "sample");
        int f = training.averagingFrequency();
        multipleOf("training.steps", training.steps(), f);
        multipleOf("evaluation.every-steps", evaluation.everySteps(), f);
        multipleOf("logging.every-steps", logging.everySteps(), f);
        multipleOf("checkpoint.every-steps", checkpoint.everySteps(), f);
        if (optimizer.decaySteps() > 0 && optimizer.decaySteps() < optimizer.warmupSteps()) {
            throw bad("optimizer.decay-steps", optimizer.decaySteps(), "must be ≥ optimizer.warmup-steps = " + optimizer.warmupSteps());
        }
        horizonWeights.schedule(model.predictedTokens()); // validates lengths against n
        if (sample.speculative() && model.predictedTokens() < 2) {
            throw bad("sample.speculative", true, "needs model.predicted-tokens ≥ 2 (the extra heads draft); it is 1");
        }
        if (sample.draftHeads() > model.predictedTokens()) {
            throw bad("sample.draft-heads", sample.draftHeads(), "must be ≤ model.predicted-tokens = " + model.predictedTokens());
        }
        model.toModelConfig(2);                            // validates the architecture with a placeholder vocabulary
    }

    /** The optimizer settings, with {@code decay-steps: 0} meaning "the whole run". */
    public OptimizerSettings optimizerSettings() {
        int decay = optimizer.decaySteps() > 0 ? optimizer.decaySteps() : training.steps();
        return new OptimizerSettings(optimizer.learningRate(), optimizer.minLearningRate(), optimizer.warmupSteps(),
                Math.max(decay, optimizer.warmupSteps()), optimizer.beta1(), optimizer.beta2(), optimizer.epsilon(),
                optimizer.weightDecay(), optimizer.gradientClipping(), optimizer.clipThreshold());
    }

    /** Tokens consumed by one optimizer step across all workers. */
    public long tokensPerStep() {
        return (long) training.workers() * training.batchSizePerWorker() * model.contextLength();
    }

    /** @param output any Hadoop path; @param seed seeds initialisation, data order and sampling */
    /**
     * @param initFrom  a model directory (written by export, or any GPT-2-layout safetensors directory) whose
     *                  weights start a new run; null or empty: random initialisation
     * @param initHeads how heads 2..n start when that directory has none for them
     */
    public record Run(String output, long seed, String initFrom, InitHeads initHeads) implements Serializable {
        public Run {
            requireText(output, "run.output");
            initFrom = initFrom == null || initFrom.isBlank() ? null : initFrom;
            initHeads = initHeads == null ? InitHeads.COPY : initHeads;
        }
    }

    /** {@code run.init-heads}: copies of head 1 (or of the last trunk block for sequential modules), or fresh. */
    public enum InitHeads { COPY, FRESH }

    /** @param dataset directory written by the tokenize job */
    public record Data(String dataset, String trainSplit, String validationSplit) implements Serializable {
        public Data {
            requireText(dataset, "data.dataset");
            requireText(trainSplit, "data.train-split");
            requireText(validationSplit, "data.validation-split");
        }
    }

    /** The architecture; see docs/model.md. {@code loss-weights} empty means 1 for every horizon. */
    public record Model(int contextLength, int predictedTokens, int modelWidth, int attentionHeads, int trunkDepth,
                        int mlpWidth, HeadArchitecture headArchitecture, List<Double> lossWeights, NormType norm,
                        PositionalEncoding positionalEncoding, double dropout, double initStd, double normEpsilon,
                        int stepThreads)
            implements Serializable {

        public Model {
            lossWeights = lossWeights == null ? List.of() : List.copyOf(lossWeights);
            require(headArchitecture, "model.head-architecture");
            require(norm, "model.norm");
            require(positionalEncoding, "model.positional-encoding");
        }

        /** The core model configuration for a vocabulary; core's key names are mapped to this file's. */
        public MtpModelConfig toModelConfig(int vocabSize, long seed) {
            try {
                MtpModelConfig.Builder b = MtpModelConfig.builder()
                        .vocabSize(vocabSize).contextLength(contextLength).predictedTokens(predictedTokens)
                        .modelWidth(modelWidth).attentionHeads(attentionHeads).trunkDepth(trunkDepth).mlpWidth(mlpWidth)
                        .headArchitecture(headArchitecture).normType(norm).positionalEncoding(positionalEncoding)
                        .dropout(dropout).initStd(initStd).normEpsilon(normEpsilon).seed(seed)
                        .stepThreads(stepThreads);
                if (!lossWeights.isEmpty()) {
                    b.lossWeights(lossWeights.stream().mapToDouble(Double::doubleValue).toArray());
                }
                return b.build();
            } catch (InvalidConfigException e) {
                throw new BadInputException("model." + kebab(e.key()) + e.getMessage().substring(e.key().length()));
            }
        }

        MtpModelConfig toModelConfig(int vocabSize) {
            return toModelConfig(vocabSize, 0);
        }
    }

    /** AdamW and its schedule; {@code decay-steps: 0} decays over the whole run. */
    public record Optimizer(double learningRate, double minLearningRate, int warmupSteps, int decaySteps, double beta1,
                            double beta2, double epsilon, double weightDecay, GradientClipping gradientClipping,
                            double clipThreshold) implements Serializable {
        public Optimizer {
            if (!(learningRate > 0)) throw bad("optimizer.learning-rate", learningRate, "must be > 0");
            if (!(minLearningRate >= 0 && minLearningRate <= learningRate)) {
                throw bad("optimizer.min-learning-rate", minLearningRate, "must be in [0, optimizer.learning-rate = " + learningRate + "]");
            }
            if (warmupSteps < 0) throw bad("optimizer.warmup-steps", warmupSteps, "must be ≥ 0");
            if (decaySteps < 0) throw bad("optimizer.decay-steps", decaySteps, "must be ≥ 0 (0 = the whole run)");
            if (!(beta1 >= 0 && beta1 < 1)) throw bad("optimizer.beta1", beta1, "must be in [0, 1)");
            if (!(beta2 >= 0 && beta2 < 1)) throw bad("optimizer.beta2", beta2, "must be in [0, 1)");
            if (!(epsilon > 0)) throw bad("optimizer.epsilon", epsilon, "must be > 0");
            if (!(weightDecay >= 0)) throw bad("optimizer.weight-decay", weightDecay, "must be ≥ 0");
            require(gradientClipping, "optimizer.gradient-clipping");
            if (gradientClipping != GradientClipping.NONE && !(clipThreshold > 0)) {
                throw bad("optimizer.clip-threshold", clipThreshold, "must be > 0 when optimizer.gradient-clipping is not none");
            }
        }
    }

    /**
     * Per-horizon loss weights over training: {@code start} until {@code from-step}, linear to {@code end} at
     * {@code to-step}. Both empty: the model's {@code loss-weights} throughout.
     */
    public record HorizonWeights(List<Double> start, List<Double> end, long fromStep, long toStep) implements Serializable {
        public HorizonWeights {
            start = start == null ? List.of() : List.copyOf(start);
            end = end == null ? List.of() : List.copyOf(end);
            if (start.isEmpty() != end.isEmpty()) {
                throw new BadInputException("horizon-weights.start and horizon-weights.end must both be given or both be empty");
            }
            if (fromStep < 0 || toStep < fromStep) {
                throw bad("horizon-weights.to-step", toStep, "must be ≥ horizon-weights.from-step = " + fromStep + " ≥ 0");
            }
        }

        /** The schedule, or null when the model's fixed weights apply. */
        public HorizonWeightSchedule schedule(int n) {
            if (start.isEmpty()) {
                return null;
            }
            if (start.size() != n || end.size() != n) {
                throw new BadInputException("horizon-weights.start and horizon-weights.end need one weight per horizon ("
                        + n + " = model.predicted-tokens), got " + start.size() + " and " + end.size());
            }
            try {
                return HorizonWeightSchedule.linear(start.stream().mapToDouble(Double::doubleValue).toArray(),
                        end.stream().mapToDouble(Double::doubleValue).toArray(), fromStep, toStep);
            } catch (IllegalArgumentException e) {
                throw new BadInputException("horizon-weights: " + e.getMessage());
            }
        }
    }

    /** Parameter averaging with DL4J's {@code ParameterAveragingTrainingMaster}. */
    public enum Approach { EXPORT, DIRECT }

    /**
     * @param steps               optimizer steps per worker (each worker fits one minibatch per step)
     * @param workers             data-parallel workers (Spark tasks per round); global batch = workers × batch
     * @param averagingFrequency  steps between parameter averagings; one Spark round per averaging
     * @param prefetchBatches     minibatches each worker prefetches asynchronously
     * @param storageLevel        Spark storage level of the round's minibatches (Direct)
     * @param exportDirectory     where Export writes minibatches (empty: {@code <run.output>/tmp/export})
     * @param trainMetricsEvery   compute training per-horizon metrics on every k-th minibatch (0 = never)
     * @param requireGpu          fail unless the driver and every executor loaded ND4J's CUDA backend
     */
    public record Training(int steps, int batchSizePerWorker, int workers, int averagingFrequency, int prefetchBatches,
                           Approach approach, String storageLevel, String exportDirectory, int trainMetricsEvery,
                           boolean requireGpu)
            implements Serializable {
        public Training {
            if (steps < 1) throw bad("training.steps", steps, "must be ≥ 1");
            if (batchSizePerWorker < 1) throw bad("training.batch-size-per-worker", batchSizePerWorker, "must be ≥ 1");
            if (workers < 1) throw bad("training.workers", workers, "must be ≥ 1");
            if (averagingFrequency < 1) throw bad("training.averaging-frequency", averagingFrequency, "must be ≥ 1");
            if (prefetchBatches < 0) throw bad("training.prefetch-batches", prefetchBatches, "must be ≥ 0");
            require(approach, "training.approach");
            requireText(storageLevel, "training.storage-level");
            try {
                org.apache.spark.storage.StorageLevel.fromString(storageLevel);
            } catch (IllegalArgumentException e) {
                throw bad("training.storage-level", storageLevel, "must be a Spark storage level such as MEMORY_ONLY_SER, MEMORY_AND_DISK_SER or DISK_ONLY");
            }
            exportDirectory = exportDirectory == null ? "" : exportDirectory;
            if (trainMetricsEvery < 0) throw bad("training.train-metrics-every", trainMetricsEvery, "must be ≥ 0 (0 = off)");
        }
    }

    /**
     * Validation settings. {@code task} (none, induction, polynomial) also scores a synthetic task at every validation
     * pass, on the driver ({@link TaskScores}), so that the scores are in the metrics, charts and report of the run.
     *
     * @param maxWindows        validation windows per pass (0 = all)
     * @param batchSize         windows per forward pass
     * @param acceptancePrompts validation prompts for the drafting heads' acceptance (final evaluation; 0 = off)
     * @param taskOps           for polynomial: the numbers of operations trained on, "min-max"
     */
    public record Evaluation(int everySteps, long maxWindows, int batchSize, int acceptancePrompts, String task,
                             int taskExamples, long taskSeed, String taskOps, int taskMaxChars) implements Serializable {
        public Evaluation {
            if (acceptancePrompts < 0) throw bad("evaluation.acceptance-prompts", acceptancePrompts, "must be ≥ 0 (0 = off)");
            if (everySteps < 1) throw bad("evaluation.every-steps", everySteps, "must be ≥ 1");
            if (maxWindows < 0) throw bad("evaluation.max-windows", maxWindows, "must be ≥ 0 (0 = all)");
            if (batchSize < 1) throw bad("evaluation.batch-size", batchSize, "must be ≥ 1");
            if (!TaskScores.TASKS.contains(task)) throw bad("evaluation.task", task, "valid values are " + String.join(", ", TaskScores.TASKS));
            if (taskExamples < 1) throw bad("evaluation.task-examples", taskExamples, "must be ≥ 1");
            if (taskMaxChars < 2) throw bad("evaluation.task-max-chars", taskMaxChars, "must be ≥ 2");
            int[] ops;
            try {
                ops = TaskScores.Spec.ops(taskOps);
            } catch (BadInputException e) {
                ops = new int[] {0, 0};
            }
            if (ops[0] < 1 || ops[1] < ops[0]) {
                throw bad("evaluation.task-ops", taskOps, "write the trained numbers of operations as min-max with 1 ≤ min ≤ max, e.g. 1-3");
            }
        }

        /** What to score at every validation pass. */
        public TaskScores.Spec taskSpec() {
            int[] ops = TaskScores.Spec.ops(taskOps);
            return new TaskScores.Spec(task, taskExamples, taskSeed, ops[0], ops[1], taskMaxChars);
        }
    }

    /** @param everySteps interval of progress lines and training metric rows */
    public record Logging(int everySteps) implements Serializable {
        public Logging {
            if (everySteps < 1) throw bad("logging.every-steps", everySteps, "must be ≥ 1");
        }
    }

    /** @param keep how many of the newest checkpoints to keep (older ones are deleted) */
    public record Checkpoint(int everySteps, int keep) implements Serializable {
        public Checkpoint {
            if (everySteps < 1) throw bad("checkpoint.every-steps", everySteps, "must be ≥ 1");
            if (keep < 1) throw bad("checkpoint.keep", keep, "must be ≥ 1");
        }
    }

    /**
     * Sampling settings: {@code temperature: 0} is greedy; {@code top-k: 0} keeps the whole vocabulary;
     * {@code speculative} decodes with the extra heads as drafters, {@code draft-heads} of them (k; 0 = all n).
     */
    public record Sample(String prompt, int maxTokens, double temperature, int topK, int count, boolean speculative,
                         int draftHeads) implements Serializable {
        public Sample {
            if (draftHeads < 0 || draftHeads == 1) throw bad("sample.draft-heads", draftHeads, "must be 0 (all heads) or in 2..n");
            prompt = prompt == null ? "" : prompt;
            if (maxTokens < 1) throw bad("sample.max-tokens", maxTokens, "must be ≥ 1");
            if (!(temperature >= 0)) throw bad("sample.temperature", temperature, "must be ≥ 0 (0 = greedy)");
            if (topK < 0) throw bad("sample.top-k", topK, "must be ≥ 0 (0 = all)");
            if (count < 1) throw bad("sample.count", count, "must be ≥ 1");
        }
    }

    /** Corpus settings for the {@code pipeline} command; the same meaning as the tokenize job's options. */
    public record Tokenize(List<String> inputs, TokenizeConfig.InputFormat format, dev.mtpspark.core.data.DocumentReader.TextMode textMode, String jsonField,
                           String parquetColumn, TokenizeConfig.TokenizerType tokenizer, int bpeVocabSize, int bpeMinFrequency,
                           List<String> bpeSpecialTokens,
                           String tokenizerFile, String eosToken, double validationFraction, TokenizeConfig.SplitMode split,
                           int partitions, long splitBytes) implements Serializable {
        public Tokenize {
            inputs = inputs == null ? List.of() : List.copyOf(inputs);
            bpeSpecialTokens = bpeSpecialTokens == null ? List.of() : List.copyOf(bpeSpecialTokens);
        }
    }

    static void require(Object value, String key) {
        if (value == null) {
            throw new BadInputException(key + " is required");
        }
    }

    static void requireText(String value, String key) {
        if (value == null || value.isBlank()) {
            throw new BadInputException(key + " is required");
        }
    }

    private static void multipleOf(String key, long value, int f) {
        if (value % f != 0) {
            throw bad(key, value, "must be a multiple of training.averaging-frequency = " + f
                    + " (one parameter-averaging round is the unit of training)");
        }
    }

    static BadInputException bad(String key, Object value, String valid) {
        return new BadInputException(key + " = " + value + " is invalid: " + valid);
    }

    static String kebab(String camel) {
        return camel.replaceAll("([a-z0-9])([A-Z])", "$1-$2").toLowerCase();
    }
}

package dev.mtpspark.spark.train;

import dev.mtpspark.core.config.MtpModelConfig;
import dev.mtpspark.core.model.MtpBatches;
import dev.mtpspark.core.model.MtpModel;
import dev.mtpspark.core.train.WindowOrder;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.ops.transforms.Transforms;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** DL4J parameter-averaging semantics and exact resume, checked on Spark local[2] with two workers. */
class DistributedTrainingTest {
    @TempDir
    static Path dir;
    private static SparkSession spark;
    private static String dataset;

    @BeforeAll
    static void start() throws Exception {
        spark = SparkSession.builder().master("local[2]").appName("train-test")
                .config("spark.serializer", "org.apache.spark.serializer.KryoSerializer")
                .config("spark.kryo.registrator", dev.mtpspark.spark.MtpKryoRegistrator.withOurs(null))
                .config("spark.ui.enabled", "false").getOrCreate();
        dataset = TrainFixtures.tokenize(spark, TrainFixtures.corpus(dir), dir.resolve("dataset"));
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    @Test
    void twoWorkersWithAveragingFrequencyOneEqualTheAverageOfTwoIndependentlyUpdatedCopies() throws Exception {
        // Two rounds, so the second starts from averaged parameters *and* averaged Adam state at iteration 1.
        TrainConfig config = TrainFixtures.config(dataset, dir.resolve("avg"), List.of("training.workers=2",
                "training.averaging-frequency=1", "training.steps=2", "evaluation.every-steps=2", "logging.every-steps=1",
                "checkpoint.every-steps=2", "optimizer.warmup-steps=1", "optimizer.weight-decay=0.1", "optimizer.min-learning-rate=1e-4", "optimizer.decay-steps=2"));
        TrainJob.Result result = TrainJob.run(spark, config, TrainJob.ResumeMode.OVERWRITE);
        INDArray sparkParams = CheckpointStore.load(result.checkpoint(), new Configuration()).model().graph().params();

        // The same computation by hand: each worker's copy starts from the shared state and fits its own batch.
        DatasetInfo ds = DatasetInfo.read(dataset, new Configuration());
        MtpModelConfig mc = config.model().toModelConfig(ds.vocabSize(), config.run().seed());
        Map<Long, int[]> windows = new HashMap<>();
        ds.windows(spark, "train").zipWithIndex().collect().forEach(t -> windows.put(t._2(), t._1()));
        WindowOrder order = new WindowOrder(windows.size(), config.run().seed());
        int b = config.training().batchSizePerWorker();

        MtpModel shared = MtpModel.create(mc, config.optimizerSettings(), DataType.FLOAT);
        for (int round = 0; round < 2; round++) {
            INDArray paramSum = null;
            INDArray stateSum = null;
            for (int worker = 0; worker < 2; worker++) {
                MtpModel copy = MtpModel.create(mc, config.optimizerSettings(), DataType.FLOAT);
                copy.graph().setParams(shared.graph().params().dup());
                copy.graph().getUpdater().getStateViewArray().assign(shared.graph().getUpdater().getStateViewArray());
                // The optimizer step (learning rate, Adam bias correction) continues across rounds: DL4J's worker would
                // restart it at 0 every round (WorkerStepHook restores it); this test catches that.
                copy.graph().getConfiguration().setIterationCount(round);
                int[][] batch = new int[b][];
                for (int i = 0; i < b; i++) {
                    batch[i] = windows.get(order.windowAt((long) round * 2 * b + (long) worker * b + i));
                }
                copy.fit(MtpBatches.fromWindows(batch, mc, DataType.FLOAT));
                paramSum = paramSum == null ? copy.graph().params().dup() : paramSum.addi(copy.graph().params());
                INDArray state = copy.graph().getUpdater().getStateViewArray();
                stateSum = stateSum == null ? state.dup() : stateSum.addi(state);
            }
            shared.graph().setParams(paramSum.divi(2));
            shared.graph().getUpdater().getStateViewArray().assign(stateSum.divi(2));
        }
        INDArray expected = shared.graph().params();
        double diff = Transforms.abs(expected.sub(sparkParams)).maxNumber().doubleValue();
        double moved = Transforms.abs(expected.sub(MtpModel.create(mc, config.optimizerSettings(), DataType.FLOAT).graph().params()))
                .maxNumber().doubleValue();
        assertTrue(moved > 1e-3, "training should have moved the parameters, max change " + moved);
        assertTrue(diff < 1e-5, "Spark parameter averaging differs from the explicit average by " + diff);
    }

    @Test
    void resumingAfterAStopReachesTheSameParametersAsAnUninterruptedRun() throws Exception {
        List<String> plan = List.of("training.workers=2", "training.averaging-frequency=2", "training.steps=8",
                "evaluation.every-steps=4", "logging.every-steps=2", "checkpoint.every-steps=2");
        TrainJob.Result whole = TrainJob.run(spark, TrainFixtures.config(dataset, dir.resolve("whole"), plan), TrainJob.ResumeMode.OVERWRITE);

        TrainConfig split = TrainFixtures.config(dataset, dir.resolve("split"), plan);
        TrainJob.Result first = TrainJob.run(spark, split, TrainJob.ResumeMode.OVERWRITE, 4);
        assertEquals(4, first.step());
        TrainJob.Result rest = TrainJob.run(spark, split, TrainJob.ResumeMode.REQUIRE);
        assertEquals(8, rest.step());
        assertEquals(whole.tokensSeen(), rest.tokensSeen());

        CheckpointStore.Loaded a = CheckpointStore.load(whole.checkpoint(), new Configuration());
        CheckpointStore.Loaded c = CheckpointStore.load(rest.checkpoint(), new Configuration());
        double diff = Transforms.abs(a.model().graph().params().sub(c.model().graph().params())).maxNumber().doubleValue();
        assertEquals(0.0, diff, 1e-6, "resumed parameters differ from the uninterrupted run");
        double stateDiff = Transforms.abs(a.model().graph().getUpdater().getStateViewArray()
                .sub(c.model().graph().getUpdater().getStateViewArray())).maxNumber().doubleValue();
        assertEquals(0.0, stateDiff, 1e-6, "resumed Adam state differs");
        assertEquals(a.state().dataPosition(), c.state().dataPosition());
        // The metrics of the resumed run continue the first part's rows without duplicates.
        List<dev.mtpspark.spark.metrics.MetricsRow> rows = dev.mtpspark.spark.metrics.MetricsLog.read(
                new org.apache.hadoop.fs.Path(dir.resolve("split").toString()), new Configuration());
        assertEquals(rows.stream().filter(r -> r.isValidation()).map(r -> r.step()).toList(), List.of(0L, 4L, 8L));
    }

    @Test
    void aRunResumedWithAnotherStepThreadsContinuesTheSameTrajectoryOnTheWorkers() throws Exception {
        List<String> plan = List.of("training.workers=2", "training.averaging-frequency=2", "training.steps=8",
                "evaluation.every-steps=4", "logging.every-steps=2", "checkpoint.every-steps=2");
        TrainJob.Result whole = TrainJob.run(spark, TrainFixtures.config(dataset, dir.resolve("shards-whole"), plan),
                TrainJob.ResumeMode.OVERWRITE);

        // The first half trains with two threads per step (two batch shards on every worker), the rest with one; the
        // rest's configuration also carries the earlier releases' model.head-order, which is accepted and ignored.
        List<String> twoThreads = new java.util.ArrayList<>(plan);
        twoThreads.add("model.step-threads=2");
        TrainJob.Result first = TrainJob.run(spark, TrainFixtures.config(dataset, dir.resolve("shards-split"), twoThreads),
                TrainJob.ResumeMode.OVERWRITE, 4);
        assertEquals(4, first.step());
        List<String> legacy = new java.util.ArrayList<>(plan);
        legacy.add("model.head-order=per-head");
        TrainJob.Result rest = TrainJob.run(spark, TrainFixtures.config(dataset, dir.resolve("shards-split"), legacy),
                TrainJob.ResumeMode.REQUIRE);
        assertEquals(8, rest.step());

        CheckpointStore.Loaded a = CheckpointStore.load(whole.checkpoint(), new Configuration());
        CheckpointStore.Loaded c = CheckpointStore.load(rest.checkpoint(), new Configuration());
        assertEquals(1, a.model().config().stepThreads(), "step-threads 0 resolves to spark.task.cpus (1)");
        assertEquals(2, CheckpointStore.load(first.checkpoint(), new Configuration()).model().config().stepThreads());
        // Same gradients up to single-precision rounding, so the same parameters up to rounding after 8 steps.
        double diff = Transforms.abs(a.model().graph().params().sub(c.model().graph().params())).maxNumber().doubleValue();
        assertTrue(diff < 1e-4, "the continuation with one shard differs from the uninterrupted run by " + diff);
        assertTrue(Double.isFinite(rest.validation().loss(1)), "validation after the switch");
    }

    @Test
    void aDivergingRunStopsWithAClearErrorAndKeepsTheLastGoodCheckpoint() throws Exception {
        TrainConfig config = TrainFixtures.config(dataset, dir.resolve("diverge"), List.of("training.workers=1",
                "training.averaging-frequency=1", "training.steps=6", "evaluation.every-steps=6", "logging.every-steps=1",
                "checkpoint.every-steps=1", "optimizer.learning-rate=1e30", "optimizer.min-learning-rate=1e30",
                "optimizer.warmup-steps=0", "optimizer.gradient-clipping=none", "optimizer.weight-decay=0"));
        TrainingDivergedException e = org.junit.jupiter.api.Assertions.assertThrows(TrainingDivergedException.class,
                () -> TrainJob.run(spark, config, TrainJob.ResumeMode.OVERWRITE));
        assertTrue(e.getMessage().contains("training diverged at step") && e.getMessage().contains("the last good one is"), e.getMessage());
        CheckpointStore store = new CheckpointStore(new org.apache.hadoop.fs.Path(dir.resolve("diverge").toString()), new Configuration());
        long failedAt = Long.parseLong(e.getMessage().replaceAll(".*diverged at step (\\d+).*", "$1"));
        assertTrue(failedAt >= 2, "diverged at " + failedAt);
        List<org.apache.hadoop.fs.Path> left = store.list();
        assertEquals(failedAt - 1, CheckpointStore.stepOf(left.get(0)), "no checkpoint after the divergence");
        assertTrue(store.loadLatest().isPresent(), "the previous checkpoint still loads");
    }

    @Test
    void theHorizonWeightScheduleReachesTheWorkers() throws Exception {
        // Weight 0 on horizon 2 from the schedule (the model's own weights are 1, 1): head 2's block gets no
        // gradient on the workers, so without weight decay its parameters must not move while head 1's do.
        TrainConfig config = TrainFixtures.config(dataset, dir.resolve("weights"), List.of("training.workers=2",
                "training.averaging-frequency=2", "training.steps=2", "evaluation.every-steps=2", "logging.every-steps=2",
                "checkpoint.every-steps=2", "optimizer.weight-decay=0",
                "horizon-weights.start=[1, 0]", "horizon-weights.end=[1, 0]"));
        TrainJob.Result result = TrainJob.run(spark, config, TrainJob.ResumeMode.OVERWRITE);
        MtpModel trained = CheckpointStore.load(result.checkpoint(), new Configuration()).model();
        DatasetInfo ds = DatasetInfo.read(dataset, new Configuration());
        MtpModel initial = MtpModel.create(config.model().toModelConfig(ds.vocabSize(), config.run().seed()),
                config.optimizerSettings(), DataType.FLOAT);
        Map<String, INDArray> before = initial.graph().getLayer(MtpModel.NETWORK).paramTable();
        Map<String, INDArray> after = trained.graph().getLayer(MtpModel.NETWORK).paramTable();
        assertTrue(before.keySet().stream().anyMatch(k -> k.startsWith("h2")), "head 2 parameters: " + before.keySet());
        double moved1 = 0;
        double moved2 = 0;
        for (String name : before.keySet()) {
            double change = Transforms.abs(before.get(name).sub(after.get(name))).maxNumber().doubleValue();
            if (name.startsWith("h1")) {
                moved1 = Math.max(moved1, change);
            } else if (name.startsWith("h2")) {
                moved2 = Math.max(moved2, change);
            }
        }
        assertTrue(moved1 > 1e-3, "head 1 should train, moved " + moved1);
        assertEquals(0.0, moved2, 0.0, "head 2 has weight 0 and must not move");
        assertEquals(List.of(1.0, 0.0), java.util.Arrays.stream(trained.lossWeights()).boxed().toList());
    }

    @Test
    void dryRunsValidateAndDescribeWithoutTrainingOrWriting() throws Exception {
        Path out = dir.resolve("dry");
        java.io.ByteArrayOutputStream captured = new java.io.ByteArrayOutputStream();
        java.io.PrintStream stdout = System.out;
        int exit;
        try {
            System.setOut(new java.io.PrintStream(captured, true, java.nio.charset.StandardCharsets.UTF_8));
            List<String> args = new java.util.ArrayList<>(List.of("train", "--dry-run"));
            for (String o : TrainFixtures.tinyModel()) {
                args.add("--set");
                args.add(o);
            }
            args.addAll(List.of("--set", "data.dataset=" + dataset, "--set", "run.output=" + out, "--set", "training.steps=100"));
            exit = dev.mtpspark.spark.MtpCli.execute(args.toArray(new String[0]));
        } finally {
            System.setOut(stdout);
        }
        String text = captured.toString(java.nio.charset.StandardCharsets.UTF_8);
        assertEquals(0, exit, text);
        assertTrue(text.contains("dry run") && text.contains("100 steps × 1 workers × batch 4") && text.contains("starts at step 0"), text);
        assertTrue(!java.nio.file.Files.exists(out), "a dry run writes nothing");
        assertEquals(2, dev.mtpspark.spark.MtpCli.execute("tokenize", "--dry-run", "--input", dir.resolve("absent.txt").toString(),
                "--output", dir.resolve("ds2").toString()));
        assertEquals(0, dev.mtpspark.spark.MtpCli.execute("tokenize", "--dry-run", "--input", dir.resolve("corpus.txt").toString(),
                "--output", dir.resolve("ds2").toString()));
        assertTrue(!java.nio.file.Files.exists(dir.resolve("ds2")), "a dry run writes nothing");
    }

    @Test
    void requiringAGpuOnTheCpuBackendFailsBeforeTraining() {
        TrainConfig config = TrainFixtures.config(dataset, dir.resolve("gpu"), List.of("training.require-gpu=true",
                "training.steps=2", "training.averaging-frequency=2", "evaluation.every-steps=2", "logging.every-steps=2",
                "checkpoint.every-steps=2"));
        dev.mtpspark.spark.tokenize.BadInputException e = org.junit.jupiter.api.Assertions.assertThrows(
                dev.mtpspark.spark.tokenize.BadInputException.class, () -> TrainJob.run(spark, config, TrainJob.ResumeMode.OVERWRITE));
        assertTrue(e.getMessage().contains("loaded ND4J's CpuBackend, not the CUDA backend") && e.getMessage().contains("-Pcuda"), e.getMessage());
        assertTrue(!java.nio.file.Files.exists(dir.resolve("gpu").resolve("checkpoints")), "nothing trained or written");
    }
}

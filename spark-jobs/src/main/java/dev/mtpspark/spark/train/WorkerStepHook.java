package dev.mtpspark.spark.train;

import dev.mtpspark.core.stats.HorizonStats;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.spark.api.TrainingHook;
import org.nd4j.linalg.dataset.api.DataSet;
import org.nd4j.linalg.dataset.api.MultiDataSet;

/**
 * Runs on the executors inside DL4J's parameter-averaging worker, before every minibatch update. It does two
 * things:
 *
 * <ol>
 *   <li><b>Keeps the optimizer step count right.</b> DL4J 1.0.0-M2.1's worker builds its network from
 *   {@code ComputationGraphConfiguration.clone()}, which drops the iteration count, so without this every round
 *   would restart at iteration 0: the learning-rate schedule would never leave its first F steps and Adam's bias
 *   correction would restart each round. The driver sets {@link #setFirstIteration} before each round; the hook
 *   sets {@code first + minibatches seen} on the worker's network before each fit.</li>
 *   <li><b>Collects training metrics.</b> On every k-th minibatch it scores the minibatch per horizon with the
 *   worker's current parameters (the usual training loss, before the step) and adds the sums to a driver-side
 *   accumulator. That costs one extra forward pass per sampled minibatch.</li>
 * </ol>
 *
 * <p>Each Spark task deserialises its own copy, and each worker fits its F minibatches in one task, so the
 * local counter starts at zero for every worker and round.
 */
public final class WorkerStepHook implements TrainingHook {
    private final HorizonStatsAccumulator accumulator;
    private final int metricsEvery;
    private volatile long firstIteration;
    private long seen;

    public WorkerStepHook(HorizonStatsAccumulator accumulator, int metricsEvery) {
        this.accumulator = accumulator;
        this.metricsEvery = metricsEvery;
    }

    /** The global optimizer step at which the next round starts (set on the driver before each round). */
    public void setFirstIteration(long firstIteration) {
        this.firstIteration = firstIteration;
    }

    @Override
    public void preUpdate(MultiDataSet minibatch, Model model) {
        ComputationGraph graph = (ComputationGraph) model;
        if (seen == 1) {
            TrainingTaskPause.atMinibatch();          // a test hook; nothing unless its system property is set
        }
        graph.getConfiguration().setIterationCount((int) (firstIteration + seen));
        if (metricsEvery > 0 && seen % metricsEvery == 0) {
            accumulator.add(HorizonStats.fromLogits(graph.outputSingle(false, minibatch.getFeatures(0)), minibatch.getLabels(0)));
        }
        seen++;
    }

    @Override
    public void postUpdate(MultiDataSet minibatch, Model model) {
    }

    @Override
    public void preUpdate(DataSet minibatch, Model model) {
        throw new UnsupportedOperationException("the MTP model trains on MultiDataSets");
    }

    @Override
    public void postUpdate(DataSet minibatch, Model model) {
    }
}

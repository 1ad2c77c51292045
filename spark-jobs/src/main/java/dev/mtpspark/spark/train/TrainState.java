package dev.mtpspark.spark.train;

import java.io.Serializable;

/**
 * Where a run stands, saved with every checkpoint: everything besides the model needed to continue as if the
 * run had never stopped.
 *
 * @param formatVersion  checkpoint layout version
 * @param step           optimizer steps done (per worker)
 * @param tokensSeen     training tokens consumed by all workers
 * @param dataPosition   training windows consumed; the next round starts at this position of the
 *                       {@link dev.mtpspark.core.train.WindowOrder} (which also gives the epoch)
 * @param trainWindows   windows in the training split, to detect a changed dataset on resume
 * @param seed           the run's seed (data order, initialisation, DL4J's split RNG per round)
 * @param elapsedSeconds training wall time so far, for throughput and ETA after a resume
 * @param lossWeights    per-horizon loss weights in force at this step
 */
public record TrainState(int formatVersion, long step, long tokensSeen, long dataPosition, long trainWindows,
                         long seed, double elapsedSeconds, double[] lossWeights) implements Serializable {
    /** 2: the model is one DL4J layer ({@code MtpNetworkLayer}); format 1 had separate embedding and trunk layers. */
    public static final int FORMAT_VERSION = 2;
}

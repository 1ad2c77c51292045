package dev.mtpspark.spark.train;

import dev.mtpspark.core.stats.HorizonStats;
import org.apache.spark.util.AccumulatorV2;

/**
 * Spark accumulator of per-horizon sums: executors add the statistics of the minibatches they train on, and
 * Spark merges the task results on the driver.
 */
public final class HorizonStatsAccumulator extends AccumulatorV2<HorizonStats, HorizonStats> {
    private final int horizons;
    private HorizonStats sum;

    public HorizonStatsAccumulator(int horizons) {
        this.horizons = horizons;
        this.sum = new HorizonStats(horizons);
    }

    @Override
    public boolean isZero() {
        return sum.tokens(1) == 0;
    }

    @Override
    public AccumulatorV2<HorizonStats, HorizonStats> copy() {
        HorizonStatsAccumulator c = new HorizonStatsAccumulator(horizons);
        c.sum.merge(sum);
        return c;
    }

    @Override
    public void reset() {
        sum = new HorizonStats(horizons);
    }

    @Override
    public void add(HorizonStats v) {
        sum.merge(v);
    }

    @Override
    public void merge(AccumulatorV2<HorizonStats, HorizonStats> other) {
        sum.merge(other.value());
    }

    @Override
    public HorizonStats value() {
        return sum;
    }
}

package dev.mtpspark.core.train;

import org.nd4j.linalg.schedule.ISchedule;
import org.nd4j.shade.jackson.annotation.JsonProperty;

/**
 * Learning rate with linear warm-up and cosine decay, as in nanoGPT: {@code peak·(i+1)/(w+1)} for the first
 * {@code w} iterations, then a cosine from {@code peak} down to {@code floor} at iteration {@code decaySteps},
 * and {@code floor} after that.
 *
 * <p>DL4J evaluates it on the network's iteration count, which Spark parameter averaging advances by the
 * averaging frequency after every round, so workers and the driver see the same value for the same step.
 * Bean-style so that DL4J can serialise it inside the network configuration.
 */
public final class WarmupCosineSchedule implements ISchedule {
    @JsonProperty private double peak;
    @JsonProperty private double floor;
    @JsonProperty private int warmupSteps;
    @JsonProperty private int decaySteps;

    public WarmupCosineSchedule() {
    }

    public WarmupCosineSchedule(double peak, double floor, int warmupSteps, int decaySteps) {
        if (!(peak > 0) || !(floor >= 0) || floor > peak) {
            throw new IllegalArgumentException("need 0 ≤ floor ≤ peak and peak > 0, got peak " + peak + ", floor " + floor);
        }
        if (warmupSteps < 0 || decaySteps < warmupSteps) {
            throw new IllegalArgumentException("need 0 ≤ warmupSteps ≤ decaySteps, got " + warmupSteps + " and " + decaySteps);
        }
        this.peak = peak;
        this.floor = floor;
        this.warmupSteps = warmupSteps;
        this.decaySteps = decaySteps;
    }

    @Override
    public double valueAt(int iteration, int epoch) {
        if (iteration < warmupSteps) {
            return peak * (iteration + 1) / (warmupSteps + 1);
        }
        if (iteration >= decaySteps) {
            return floor;
        }
        double progress = (double) (iteration - warmupSteps) / Math.max(1, decaySteps - warmupSteps);
        return floor + 0.5 * (1 + Math.cos(Math.PI * progress)) * (peak - floor);
    }

    @Override
    public ISchedule clone() {
        return new WarmupCosineSchedule(peak, floor, warmupSteps, decaySteps);
    }

    public double getPeak() { return peak; }
    public double getFloor() { return floor; }
    public int getWarmupSteps() { return warmupSteps; }
    public int getDecaySteps() { return decaySteps; }
    public void setPeak(double peak) { this.peak = peak; }
    public void setFloor(double floor) { this.floor = floor; }
    public void setWarmupSteps(int warmupSteps) { this.warmupSteps = warmupSteps; }
    public void setDecaySteps(int decaySteps) { this.decaySteps = decaySteps; }

    @Override
    public boolean equals(Object o) {
        return o instanceof WarmupCosineSchedule s && s.peak == peak && s.floor == floor
                && s.warmupSteps == warmupSteps && s.decaySteps == decaySteps;
    }

    @Override
    public int hashCode() {
        return java.util.Objects.hash(peak, floor, warmupSteps, decaySteps);
    }
}

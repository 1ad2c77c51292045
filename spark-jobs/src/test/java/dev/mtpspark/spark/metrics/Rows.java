package dev.mtpspark.spark.metrics;

import dev.mtpspark.core.stats.HorizonStats;

import java.util.ArrayList;
import java.util.List;

/** Deterministic metrics rows for the tests. */
final class Rows {
    private Rows() {
    }

    /** Statistics with {@code count} tokens per horizon: loss base + 0.5·k, top-1 hit for i < hits1(k), top-5 for i < hits5(k). */
    static HorizonStats stats(int horizons, int count, double base) {
        HorizonStats s = new HorizonStats(horizons);
        for (int k = 1; k <= horizons; k++) {
            int hits1 = count / (k + 1);
            int hits5 = count / k;
            for (int i = 0; i < count; i++) {
                s.add(k, base + 0.5 * k, i < hits1, i < hits5);
            }
        }
        return s;
    }

    static double[] weights(int horizons) {
        double[] w = new double[horizons];
        java.util.Arrays.fill(w, 1.0 / horizons);
        return w;
    }

    /** Training rows every 10 steps with a validation row every 50, loss decreasing. */
    static List<MetricsRow> run(int horizons, int steps) {
        List<MetricsRow> rows = new ArrayList<>();
        for (int step = 10; step <= steps; step += 10) {
            double base = 3.0 / (1 + step / 100.0);
            rows.add(MetricsRow.of(MetricsRow.TRAIN, step, step * 1024L, 1e-3, 5000.0 + step, step * 0.2,
                    stats(horizons, 20, base), weights(horizons)));
            if (step % 50 == 0) {
                rows.add(MetricsRow.of(MetricsRow.VALIDATION, step, step * 1024L, 1e-3, Double.NaN, step * 0.2 + 1,
                        stats(horizons, 40, base + 0.1), weights(horizons)));
            }
        }
        return rows;
    }

    /** {@link #run(int, int)} with induction scores on its validation rows: accuracy rising with the step, a constant count. */
    static List<MetricsRow> runWithTaskScores(int horizons, int steps) {
        List<MetricsRow> rows = new ArrayList<>();
        for (MetricsRow r : run(horizons, steps)) {
            java.util.Map<String, Double> scores = new java.util.LinkedHashMap<>();
            scores.put("task/induction-copy-acc", r.step() / 1000.0);
            scores.put("task/induction-copy-letters", 1234.0);
            rows.add(r.isValidation() ? r.withTaskScores(scores) : r);
        }
        return rows;
    }
}

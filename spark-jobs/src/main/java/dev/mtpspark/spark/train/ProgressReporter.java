package dev.mtpspark.spark.train;

import dev.mtpspark.core.stats.HorizonStats;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Locale;

/** One readable line per logging interval: step/total, loss per horizon, tokens/s, learning rate, ETA. */
final class ProgressReporter {
    private static final Logger LOG = LoggerFactory.getLogger("dev.mtpspark.spark.train.progress");
    private final long totalSteps;
    private final long startStep;
    private final int horizons;
    private final long startNanos = System.nanoTime();

    ProgressReporter(long totalSteps, long startStep, int horizons) {
        this.totalSteps = totalSteps;
        this.startStep = startStep;
        this.horizons = horizons;
    }

    void trainLine(long step, HorizonStats stats, double score, double lr, double tokensPerSecond, double elapsed) {
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "step %d/%d (%.0f%%) | train", step, totalSteps, 100.0 * step / totalSteps));
        if (stats.tokens(1) > 0) {
            for (int k = 1; k <= horizons; k++) {
                b.append(String.format(Locale.ROOT, " h%d %.4f", k, stats.loss(k)));
            }
        } else {
            b.append(String.format(Locale.ROOT, " objective %.4f", score));
        }
        double sessionSeconds = (System.nanoTime() - startNanos) / 1e9;
        long done = step - startStep;
        double eta = done > 0 ? sessionSeconds / done * (totalSteps - step) : Double.NaN;
        b.append(String.format(Locale.ROOT, " | %.0f tok/s | lr %.2e | elapsed %s | ETA %s", tokensPerSecond, lr,
                duration(elapsed), duration(eta)));
        LOG.info(b.toString());
    }

    void validationLine(long step, HorizonStats stats, double seconds) {
        StringBuilder b = new StringBuilder(String.format(Locale.ROOT, "step %d/%d | validation", step, totalSteps));
        for (int k = 1; k <= horizons; k++) {
            b.append(String.format(Locale.ROOT, " h%d loss %.4f acc %.3f", k, stats.loss(k), stats.accuracy(k)));
        }
        b.append(String.format(Locale.ROOT, " | %d tokens in %.1fs", stats.tokens(1), seconds));
        LOG.info(b.toString());
    }

    void taskLine(long step, String task, java.util.Map<String, Double> scores, double seconds) {
        StringBuilder b = new StringBuilder(String.format(Locale.ROOT, "step %d/%d | task %s", step, totalSteps, task));
        scores.forEach((name, v) -> b.append(String.format(Locale.ROOT, " %s %.4f", name.substring(name.indexOf('/') + 1), v)));
        b.append(String.format(Locale.ROOT, " | in %.1fs", seconds));
        LOG.info(b.toString());
    }

    static String duration(double seconds) {
        if (!Double.isFinite(seconds)) {
            return "?";
        }
        long s = Math.round(seconds);
        return s >= 3600 ? String.format(Locale.ROOT, "%dh%02dm", s / 3600, (s % 3600) / 60)
                : s >= 60 ? String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60) : s + "s";
    }
}

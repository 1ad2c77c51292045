package dev.mtpspark.spark.metrics;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.function.ToDoubleFunction;

/**
 * {@value #REPORT_MD}: a short Markdown summary of a run, from its metrics rows — steps, tokens seen, wall time and
 * mean throughput, per-horizon tables of the last validation pass and the last training interval, the synthetic
 * task's scores at every validation pass (when the run scores one), and links to the charts of {@link MetricsCharts}.
 */
public final class TrainingReport {
    private static final Logger LOG = LoggerFactory.getLogger(TrainingReport.class);

    /** File name of the report. */
    public static final String REPORT_MD = "report.md";

    private TrainingReport() {
    }

    /** Writes {@value #REPORT_MD} into {@code dir} (atomically, through the Hadoop FS) and returns its path. */
    public static Path write(List<MetricsRow> rows, String title, Path dir, Configuration conf) throws IOException {
        Path file = new Path(dir, REPORT_MD);
        HadoopFiles.writeAtomically(HadoopFiles.fileSystem(dir, conf), file, markdown(rows, title).getBytes(StandardCharsets.UTF_8));
        LOG.info("report: wrote {}", file);
        return file;
    }

    /** The report's text. */
    public static String markdown(List<MetricsRow> rows, String title) {
        StringBuilder md = new StringBuilder("# ").append(title == null || title.isBlank()
                ? "Training run" : title.replaceAll("\\s+", " ").trim()).append("\n\n");
        if (rows.isEmpty()) {
            return md.append("_No metrics have been logged yet._\n").toString();
        }
        long steps = rows.stream().mapToLong(MetricsRow::step).max().orElse(0);
        long tokens = rows.stream().mapToLong(MetricsRow::tokensSeen).max().orElse(0);
        double wall = max(rows, MetricsRow::elapsedSeconds);
        // Throughput of the training intervals only: validation rows carry no meaningful tokens/s.
        double[] tps = rows.stream().filter(MetricsRow::isTrain).mapToDouble(MetricsRow::tokensPerSecond)
                .filter(v -> Double.isFinite(v) && v > 0).toArray();
        MetricsRow lastTrain = last(rows, MetricsRow.TRAIN);
        MetricsRow lastValidation = last(rows, MetricsRow.VALIDATION);

        md.append(String.format(Locale.ROOT, "- **Steps:** %,d%n", steps));
        md.append(String.format(Locale.ROOT, "- **Tokens seen:** %,d%n", tokens));
        md.append("- **Wall time:** ").append(Double.isNaN(wall) ? "n/a" : duration(wall)).append('\n');
        md.append("- **Mean throughput:** ").append(tps.length == 0 ? "n/a" : String.format(Locale.ROOT,
                "%,.0f tokens/s (mean over %d training log intervals)", mean(tps), tps.length)).append('\n');
        md.append("- **Predicted tokens (heads):** ").append(rows.get(rows.size() - 1).horizons()).append("\n\n");

        md.append("## Validation\n\n");
        if (lastValidation == null) {
            md.append("_No validation pass has been logged yet._\n\n");
        } else {
            md.append(String.format(Locale.ROOT, "Last validation pass, at step %,d (%,d tokens seen).%n%n",
                    lastValidation.step(), lastValidation.tokensSeen()));
            table(md, lastValidation);
        }
        List<MetricsRow> scored = rows.stream().filter(r -> !r.taskScores().isEmpty()).toList();
        if (!scored.isEmpty()) {
            taskTable(md, scored);
        }
        md.append("## Training\n\n");
        if (lastTrain == null) {
            md.append("_No training interval has been logged yet._\n\n");
        } else {
            md.append(String.format(Locale.ROOT, "Last training log interval, at step %,d (%,d tokens seen).%n%n",
                    lastTrain.step(), lastTrain.tokensSeen()));
            table(md, lastTrain);
        }
        md.append("## Charts\n\n")
                .append("Solid lines: training; dashed lines: validation. Top-1 accuracy of head k ≥ 2 is the rate at ")
                .append("which self-speculative decoding accepts its drafts.\n\n")
                .append("![Per-horizon loss](").append(MetricsCharts.LOSS_PNG).append(")\n\n")
                .append("![Per-horizon top-1 accuracy](").append(MetricsCharts.ACCURACY_PNG).append(")\n");
        if (!scored.isEmpty()) {
            md.append("\n![Task scores](").append(MetricsCharts.TASKS_PNG).append(")\n");
        }
        return md.toString();
    }

    /** One row per validation pass that scored the task, one column per score. */
    private static void taskTable(StringBuilder md, List<MetricsRow> scored) {
        java.util.Set<String> names = new java.util.LinkedHashSet<>();
        scored.forEach(r -> names.addAll(r.taskScores().keySet()));
        md.append("## Task scores\n\nHeld-out synthetic-task examples, scored with each validation pass (evaluation.task).\n\n")
                .append("| step | tokens seen |");
        names.forEach(n -> md.append(' ').append(n).append(" |"));
        md.append("\n|-----:|------------:|");
        names.forEach(n -> md.append("-----:|"));
        md.append('\n');
        for (MetricsRow r : scored) {
            md.append(String.format(Locale.ROOT, "| %,d | %,d |", r.step(), r.tokensSeen()));
            names.forEach(n -> md.append(' ').append(fmt("%.4f", r.taskScores().getOrDefault(n, Double.NaN))).append(" |"));
            md.append('\n');
        }
        md.append('\n');
    }

    private static void table(StringBuilder md, MetricsRow row) {
        double[] loss = row.loss();
        double[] ppl = row.perplexity();
        double[] acc = row.accuracy();
        double[] top5 = row.top5();
        md.append("| k | loss | perplexity | top-1 accuracy | top-5 accuracy |\n")
                .append("|--:|-----:|-----------:|---------------:|---------------:|\n");
        for (int k = 1; k <= row.horizons(); k++) {
            md.append("| ").append(k)
                    .append(" | ").append(fmt("%.4f", loss[k - 1]))
                    .append(" | ").append(fmt("%.3f", ppl[k - 1]))
                    .append(" | ").append(fmt("%.4f", acc[k - 1]))
                    .append(" | ").append(fmt("%.4f", top5[k - 1]))
                    .append(" |\n");
        }
        md.append('\n').append("Weighted objective Σ w_k·loss_k: ").append(fmt("%.4f", row.totalLoss()))
                .append("\n\n");
    }

    private static String fmt(String format, double v) {
        return Double.isFinite(v) ? String.format(Locale.ROOT, format, v) : Double.isNaN(v) ? "n/a" : v > 0 ? "∞" : "−∞";
    }

    private static String duration(double seconds) {
        long s = Math.round(seconds);
        return String.format(Locale.ROOT, "%d:%02d:%02d (%,.0f s)", s / 3600, s / 60 % 60, s % 60, seconds);
    }

    private static MetricsRow last(List<MetricsRow> rows, String split) {
        for (int i = rows.size() - 1; i >= 0; i--) {
            if (rows.get(i).split().equals(split)) {
                return rows.get(i);
            }
        }
        return null;
    }

    private static double max(List<MetricsRow> rows, ToDoubleFunction<MetricsRow> f) {
        return rows.stream().mapToDouble(f).filter(Double::isFinite).max().orElse(Double.NaN);
    }

    private static double mean(double[] v) {
        double sum = 0;
        for (double x : v) {
            sum += x;
        }
        return sum / v.length;
    }
}

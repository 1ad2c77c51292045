package dev.mtpspark.spark.experiment;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mtpspark.spark.metrics.HadoopFiles;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.data.xy.YIntervalSeries;
import org.jfree.data.xy.YIntervalSeriesCollection;

import java.awt.Color;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The aggregate of an experiment's finished runs: per arm, the mean and sample standard deviation over seeds of
 * every final metric (per-horizon validation loss and accuracy, task scores), the parameter count and the time per
 * run; and the mean head-1 validation loss by tokens seen. Written as {@code results.json}, {@code results.md} and
 * {@code learning-curves.png} (mean ± one standard deviation) in the plan's output directory.
 */
final class ExperimentReport {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final ExperimentPlan plan;
    private final Map<String, List<JsonNode>> runs;

    private ExperimentReport(ExperimentPlan plan, Map<String, List<JsonNode>> runs) {
        this.plan = plan;
        this.runs = runs;
    }

    static ExperimentReport collect(ExperimentPlan plan, Configuration conf) throws IOException {
        Map<String, List<JsonNode>> runs = new LinkedHashMap<>();
        for (ExperimentPlan.Arm arm : plan.arms()) {
            List<JsonNode> done = new ArrayList<>();
            for (long seed : plan.seeds()) {
                Path f = new Path(ExperimentCommand.runDir(plan, arm, seed), ExperimentCommand.RESULT);
                if (f.getFileSystem(conf).exists(f)) {
                    done.add(ExperimentCommand.readResult(f, conf));
                }
            }
            runs.put(arm.name(), done);
        }
        return new ExperimentReport(plan, runs);
    }

    /** Mean and sample standard deviation (0 for one value; NaN for none). */
    static double[] meanStd(List<Double> xs) {
        if (xs.isEmpty()) {
            return new double[] {Double.NaN, Double.NaN};
        }
        double mean = xs.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
        double ss = 0;
        for (double x : xs) {
            ss += (x - mean) * (x - mean);
        }
        return new double[] {mean, xs.size() > 1 ? Math.sqrt(ss / (xs.size() - 1)) : 0};
    }

    /** The final metrics' names in first-seen order (h1 first). */
    private List<String> metricNames() {
        Set<String> names = new LinkedHashSet<>();
        runs.values().forEach(list -> list.forEach(r -> r.path("final").fieldNames().forEachRemaining(names::add)));
        List<String> ordered = new ArrayList<>(names.stream().filter(m -> !m.startsWith("task/")).sorted(java.util.Comparator
                .comparingInt((String m) -> Integer.parseInt(m.substring(m.indexOf("/h") + 2))).thenComparing(m -> !m.startsWith("loss")))
                .toList());
        names.stream().filter(m -> m.startsWith("task/")).forEach(ordered::add);
        return ordered;
    }

    private static List<Double> values(List<JsonNode> rs, String path) {
        List<Double> v = new ArrayList<>();
        for (JsonNode r : rs) {
            JsonNode n = path.startsWith("final.") ? r.path("final").path(path.substring(6)) : r.path(path);
            if (n.isNumber() && Double.isFinite(n.asDouble())) {
                v.add(n.asDouble());
            }
        }
        return v;
    }

    String markdown() {
        List<String> metrics = metricNames();
        StringBuilder b = new StringBuilder("## ").append(plan.name()).append("\n\n");
        b.append("Mean ± sample standard deviation over the finished seeds (of ").append(plan.seeds()).append(").\n\n");
        b.append("| arm | n | trunk blocks | parameters | seeds | ");
        metrics.forEach(m -> b.append(m).append(" | "));
        b.append("train s per run |\n|");
        b.append(" --- |".repeat(6 + metrics.size())).append('\n');
        for (ExperimentPlan.Arm arm : plan.arms()) {
            List<JsonNode> rs = runs.get(arm.name());
            if (rs.isEmpty()) {
                b.append("| ").append(arm.name()).append(" | | | | 0 |").append(" |".repeat(metrics.size() + 1)).append('\n');
                continue;
            }
            JsonNode first = rs.get(0);
            b.append(String.format(Locale.ROOT, "| %s | %d | %d | %,d | %d | ", arm.name(), first.path("predicted_tokens").asInt(),
                    first.path("trunk_depth").asInt(), first.path("parameters").asLong(), rs.size()));
            for (String m : metrics) {
                double[] ms = meanStd(values(rs, "final." + m));
                b.append(Double.isNaN(ms[0]) ? "" : String.format(Locale.ROOT, "%.4f ± %.4f", ms[0], ms[1])).append(" | ");
            }
            double[] t = meanStd(values(rs, "train_seconds"));
            b.append(String.format(Locale.ROOT, "%.0f |%n", t[0]));
        }
        return b.toString();
    }

    void write(Configuration conf) throws IOException {
        Path out = new Path(plan.output());
        FileSystem fs = out.getFileSystem(conf);
        ObjectNode root = JSON.createObjectNode();
        root.put("experiment", plan.name());
        root.putPOJO("seeds", plan.seeds());
        ObjectNode arms = root.putObject("arms");
        for (ExperimentPlan.Arm arm : plan.arms()) {
            List<JsonNode> rs = runs.get(arm.name());
            ObjectNode a = arms.putObject(arm.name());
            a.put("description", arm.description());
            a.putPOJO("set", arm.set());
            a.put("finished_seeds", rs.size());
            ObjectNode summary = a.putObject("summary");
            for (String m : metricNames()) {
                List<Double> v = values(rs, "final." + m);
                if (!v.isEmpty()) {                       // only the arm's own metrics (n = 1 has no loss/h2)
                    double[] ms = meanStd(v);
                    summary.putObject(m).put("mean", ms[0]).put("std", ms[1]);
                }
            }
            for (String m : List.of("parameters", "train_seconds", "run_seconds", "tokens_seen")) {
                double[] ms = meanStd(values(rs, m));
                summary.putObject(m).put("mean", ms[0]).put("std", ms[1]);
            }
            ArrayNode runsNode = a.putArray("runs");
            rs.forEach(runsNode::add);
        }
        HadoopFiles.writeAtomically(fs, new Path(out, "results.json"), JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(root));
        HadoopFiles.writeAtomically(fs, new Path(out, "results.md"), markdown().getBytes(java.nio.charset.StandardCharsets.UTF_8));
        ByteArrayOutputStream png = new ByteArrayOutputStream();
        ChartUtils.writeChartAsPNG(png, chart(), 1000, 600);
        HadoopFiles.writeAtomically(fs, new Path(out, "learning-curves.png"), png.toByteArray());
    }

    private JFreeChart chart() {
        YIntervalSeriesCollection data = new YIntervalSeriesCollection();
        for (ExperimentPlan.Arm arm : plan.arms()) {
            TreeMap<Long, List<Double>> byTokens = new TreeMap<>();
            for (JsonNode r : runs.get(arm.name())) {
                for (JsonNode p : r.path("validation_h1")) {
                    byTokens.computeIfAbsent(p.path("tokens_seen").asLong(), k -> new ArrayList<>()).add(p.path("loss").asDouble());
                }
            }
            YIntervalSeries s = new YIntervalSeries(arm.name());
            byTokens.forEach((tokens, losses) -> {
                double[] ms = meanStd(losses);
                s.add(tokens, ms[0], ms[0] - ms[1], ms[0] + ms[1]);
            });
            if (!s.isEmpty()) {
                data.addSeries(s);
            }
        }
        JFreeChart chart = ChartFactory.createXYLineChart(plan.name() + ": head-1 validation loss (mean ± std over seeds)",
                "tokens seen", "validation loss, head 1 (nats/token)", data, PlotOrientation.VERTICAL, true, false, false);
        chart.setBackgroundPaint(Color.WHITE);
        org.jfree.chart.renderer.xy.DeviationRenderer renderer = new org.jfree.chart.renderer.xy.DeviationRenderer(true, true);
        renderer.setAlpha(0.2f);
        chart.getXYPlot().setRenderer(renderer);
        chart.getXYPlot().setBackgroundPaint(Color.WHITE);
        chart.getXYPlot().getRangeAxis().setAutoRange(true);
        ((org.jfree.chart.axis.NumberAxis) chart.getXYPlot().getRangeAxis()).setAutoRangeIncludesZero(false);
        return chart;
    }
}

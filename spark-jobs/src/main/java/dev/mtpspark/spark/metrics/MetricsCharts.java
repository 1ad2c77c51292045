package dev.mtpspark.spark.metrics;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.chart.title.TextTitle;
import org.jfree.chart.ui.RectangleEdge;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.GraphicsEnvironment;
import java.awt.geom.Ellipse2D;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.text.DecimalFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * PNG charts of a run's per-horizon metrics against tokens seen, rendered with JFreeChart in headless mode.
 *
 * <ul>
 *   <li>{@value #LOSS_PNG}: per-horizon cross-entropy — a solid line per horizon for training, a dashed line
 *       with markers of the same colour for validation;</li>
 *   <li>{@value #ACCURACY_PNG}: the same for teacher-forced top-1 accuracy, which for heads k ≥ 2 is the rate at
 *       which self-speculative decoding accepts head k's drafts;</li>
 *   <li>{@value #TASKS_PNG}, only for runs that score a synthetic task ({@code evaluation.task}): each task score
 *       that is a fraction (counts are left to the report's table), over the validation passes.</li>
 * </ul>
 * Non-finite values (NaN, ±∞) are left out of the series. Files are written through the Hadoop FS, atomically.
 */
public final class MetricsCharts {
    private static final Logger LOG = LoggerFactory.getLogger(MetricsCharts.class);

    /** File name of the loss chart. */
    public static final String LOSS_PNG = "loss.png";
    /** File name of the accuracy chart. */
    public static final String ACCURACY_PNG = "accuracy.png";
    /** File name of the task-score chart. */
    public static final String TASKS_PNG = "tasks.png";
    /** Chart size in pixels. */
    public static final int WIDTH = 1000;
    public static final int HEIGHT = 600;

    // Tableau-10: distinguishable colours, one per horizon (cycled beyond 10 heads).
    private static final Color[] PALETTE = {
            new Color(0x1f77b4), new Color(0xff7f0e), new Color(0x2ca02c), new Color(0xd62728), new Color(0x9467bd),
            new Color(0x8c564b), new Color(0xe377c2), new Color(0x7f7f7f), new Color(0xbcbd22), new Color(0x17becf)};
    private static final BasicStroke TRAIN_STROKE = new BasicStroke(1.6f);
    private static final BasicStroke VALIDATION_STROKE = new BasicStroke(2.2f, BasicStroke.CAP_BUTT,
            BasicStroke.JOIN_MITER, 10f, new float[]{8f, 5f}, 0f);

    static {
        // Drivers and CI have no display; AWT must not try to open one. Respect an explicit choice, though.
        if (System.getProperty("java.awt.headless") == null) {
            System.setProperty("java.awt.headless", "true");
        }
    }

    private MetricsCharts() {
    }

    /**
     * Renders {@value #LOSS_PNG} and {@value #ACCURACY_PNG} of {@code rows} into {@code dir}, and {@value #TASKS_PNG}
     * when a row has task scores, and returns their paths.
     */
    public static List<Path> render(List<MetricsRow> rows, Path dir, Configuration conf) throws IOException {
        if (!GraphicsEnvironment.isHeadless()) {
            LOG.debug("charts: AWT is not headless (java.awt.headless={})", System.getProperty("java.awt.headless"));
        }
        FileSystem fs = HadoopFiles.fileSystem(dir, conf);
        Path loss = new Path(dir, LOSS_PNG);
        Path accuracy = new Path(dir, ACCURACY_PNG);
        HadoopFiles.writeAtomically(fs, loss, png(chart(rows, "Per-horizon loss",
                "cross-entropy loss (nats/token)", MetricsRow::loss, false)));
        HadoopFiles.writeAtomically(fs, accuracy, png(chart(rows, "Per-horizon top-1 accuracy",
                "top-1 accuracy (= draft acceptance rate for heads ≥ 2)", MetricsRow::accuracy, true)));
        LOG.info("charts: rendered {} rows to {} and {}", rows.size(), loss, accuracy);
        if (rows.stream().noneMatch(r -> !r.taskScores().isEmpty())) {
            return List.of(loss, accuracy);
        }
        Path tasks = new Path(dir, TASKS_PNG);
        HadoopFiles.writeAtomically(fs, tasks, png(taskChart(rows)));
        return List.of(loss, accuracy, tasks);
    }

    /** One line with markers per task score, over the validation passes that measured it. */
    static JFreeChart taskChart(List<MetricsRow> rows) {
        Map<String, XYSeries> byName = new LinkedHashMap<>();
        for (MetricsRow row : rows) {
            row.taskScores().forEach((name, v) -> {
                if (Double.isFinite(v)) {
                    byName.computeIfAbsent(name, k -> new XYSeries(k, true, true)).add(row.tokensSeen(), v);
                }
            });
        }
        XYSeriesCollection data = new XYSeriesCollection();
        XYLineAndShapeRenderer renderer = new XYLineAndShapeRenderer(true, true);
        for (XYSeries series : byName.values()) {
            if (series.getMinY() < 0 || series.getMaxY() > 1) {
                continue;                                   // a count (e.g. letters scored), not a fraction: table only
            }
            int i = data.getSeriesCount();
            data.addSeries(series);
            renderer.setSeriesPaint(i, PALETTE[i % PALETTE.length]);
            renderer.setSeriesStroke(i, VALIDATION_STROKE);
            renderer.setSeriesShape(i, new Ellipse2D.Double(-3.5, -3.5, 7, 7));
        }
        JFreeChart chart = ChartFactory.createXYLineChart("Task scores", "tokens seen", "score (fraction correct)", data,
                PlotOrientation.VERTICAL, true, false, false);
        style(chart, renderer, true);
        return chart;
    }

    static JFreeChart chart(List<MetricsRow> rows, String title, String yLabel,
                            Function<MetricsRow, double[]> metric, boolean unitInterval) {
        int n = rows.stream().mapToInt(MetricsRow::horizons).max().orElse(0);
        XYSeriesCollection data = new XYSeriesCollection();
        XYLineAndShapeRenderer renderer = new XYLineAndShapeRenderer(true, false);
        for (int k = 1; k <= n; k++) {
            for (String split : List.of(MetricsRow.TRAIN, MetricsRow.VALIDATION)) {
                XYSeries series = new XYSeries("h" + k + " " + split, true, true);
                for (MetricsRow row : rows) {
                    if (row.split().equals(split) && row.horizons() >= k) {
                        double v = metric.apply(row)[k - 1];
                        if (Double.isFinite(v)) {
                            series.add(row.tokensSeen(), v);
                        }
                    }
                }
                if (series.isEmpty()) {
                    continue;                               // no empty legend entries (e.g. before the first validation)
                }
                int i = data.getSeriesCount();
                data.addSeries(series);
                renderer.setSeriesPaint(i, PALETTE[(k - 1) % PALETTE.length]);
                if (split.equals(MetricsRow.VALIDATION)) {
                    // Validation passes are sparse: a dashed line with markers keeps single points visible.
                    renderer.setSeriesStroke(i, VALIDATION_STROKE);
                    renderer.setSeriesShapesVisible(i, true);
                    renderer.setSeriesShape(i, new Ellipse2D.Double(-3.5, -3.5, 7, 7));
                } else {
                    renderer.setSeriesStroke(i, TRAIN_STROKE);
                    renderer.setSeriesShapesVisible(i, series.getItemCount() == 1);
                }
            }
        }
        JFreeChart chart = ChartFactory.createXYLineChart(title, "tokens seen", yLabel, data,
                PlotOrientation.VERTICAL, true, false, false);
        chart.addSubtitle(new TextTitle("solid = training, dashed = validation", new Font(Font.SANS_SERIF, Font.PLAIN, 12)));
        style(chart, renderer, unitInterval);
        return chart;
    }

    private static void style(JFreeChart chart, XYLineAndShapeRenderer renderer, boolean unitInterval) {
        chart.setBackgroundPaint(Color.WHITE);
        chart.getLegend().setPosition(RectangleEdge.RIGHT);
        XYPlot plot = chart.getXYPlot();
        plot.setRenderer(renderer);
        plot.setBackgroundPaint(Color.WHITE);
        plot.setDomainGridlinePaint(new Color(0xdddddd));
        plot.setRangeGridlinePaint(new Color(0xdddddd));
        plot.setNoDataMessage("no finite values logged yet");
        NumberAxis x = (NumberAxis) plot.getDomainAxis();
        x.setNumberFormatOverride(new DecimalFormat("#,##0"));
        NumberAxis y = (NumberAxis) plot.getRangeAxis();
        y.setAutoRangeIncludesZero(unitInterval);
    }

    static byte[] png(JFreeChart chart) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ChartUtils.writeChartAsPNG(out, chart, WIDTH, HEIGHT);
        return out.toByteArray();
    }
}

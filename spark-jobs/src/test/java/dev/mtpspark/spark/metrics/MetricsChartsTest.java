package dev.mtpspark.spark.metrics;

import org.apache.hadoop.conf.Configuration;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.xy.XYSeriesCollection;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.BasicStroke;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class MetricsChartsTest {
    private static final byte[] PNG_SIGNATURE = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

    @TempDir
    Path tmp;

    @Test
    void rendersLossAndAccuracyPngs() throws Exception {
        List<org.apache.hadoop.fs.Path> written = MetricsCharts.render(Rows.run(3, 200),
                new org.apache.hadoop.fs.Path(tmp.toUri()), new Configuration());
        assertEquals(List.of("loss.png", "accuracy.png"), written.stream().map(org.apache.hadoop.fs.Path::getName).toList());
        for (String name : List.of("loss.png", "accuracy.png")) {
            byte[] bytes = Files.readAllBytes(tmp.resolve(name));
            assertArrayEquals(PNG_SIGNATURE, Arrays.copyOf(bytes, 8), name);
            BufferedImage image = ImageIO.read(new ByteArrayInputStream(bytes));
            assertNotNull(image, name);
            assertEquals(MetricsCharts.WIDTH, image.getWidth());
            assertEquals(MetricsCharts.HEIGHT, image.getHeight());
            assertFalse(Files.exists(tmp.resolve(name + ".tmp")));
        }
        assertEquals("true", System.getProperty("java.awt.headless"));
    }

    @Test
    void seriesPerHorizonAndSplitSkipNaNAndShareColours() {
        List<MetricsRow> rows = new ArrayList<>(Rows.run(2, 100));
        double nan = Double.NaN;
        rows.add(new MetricsRow(MetricsRow.TRAIN, 110, 110 * 1024, 1e-3, 1, 1, nan, new double[]{nan, 1.0},
                new double[]{nan, 0.1}, new double[]{nan, 0.2}, new double[]{nan, Math.E}, new long[]{0, 3}));
        JFreeChart chart = MetricsCharts.chart(rows, "t", "y", MetricsRow::loss, false);
        XYPlot plot = chart.getXYPlot();
        XYSeriesCollection data = (XYSeriesCollection) plot.getDataset();
        assertEquals(4, data.getSeriesCount());
        assertEquals(10, data.getSeries("h1 train").getItemCount());      // the NaN point at step 110 is skipped
        assertEquals(11, data.getSeries("h2 train").getItemCount());
        assertEquals(2, data.getSeries("h1 validation").getItemCount());
        assertEquals(110 * 1024.0, data.getSeries("h2 train").getMaxX());
        XYLineAndShapeRenderer r = (XYLineAndShapeRenderer) plot.getRenderer();
        int h1Train = data.getSeriesIndex("h1 train");
        int h1Val = data.getSeriesIndex("h1 validation");
        assertEquals(r.getSeriesPaint(h1Train), r.getSeriesPaint(h1Val));
        assertNotEquals(r.getSeriesPaint(h1Train), r.getSeriesPaint(data.getSeriesIndex("h2 train")));
        assertNotNull(((BasicStroke) r.getSeriesStroke(h1Val)).getDashArray());
        assertNull(((BasicStroke) r.getSeriesStroke(h1Train)).getDashArray());
        assertEquals("tokens seen", plot.getDomainAxis().getLabel());
    }

    @Test
    void taskScoresGetTheirOwnChartOfFractionsOnly() throws Exception {
        org.apache.hadoop.fs.Path dir = new org.apache.hadoop.fs.Path(tmp.toUri());
        assertEquals(2, MetricsCharts.render(Rows.run(2, 100), dir, new Configuration()).size());
        assertFalse(java.nio.file.Files.exists(tmp.resolve(MetricsCharts.TASKS_PNG)), "no task, no task chart");

        List<MetricsRow> rows = Rows.runWithTaskScores(2, 200);
        List<org.apache.hadoop.fs.Path> written = MetricsCharts.render(rows, dir, new Configuration());
        assertEquals(3, written.size());
        assertNotNull(ImageIO.read(tmp.resolve(MetricsCharts.TASKS_PNG).toFile()));
        XYSeriesCollection data = (XYSeriesCollection) MetricsCharts.taskChart(rows).getXYPlot().getDataset();
        assertEquals(1, data.getSeriesCount(), "the letter count is not a fraction and stays out of the chart");
        assertEquals(4, data.getSeries("task/induction-copy-acc").getItemCount());     // validation at 50, 100, 150, 200
        assertEquals(0.2, data.getSeries("task/induction-copy-acc").getMaxY(), 1e-12);
    }

    @Test
    void rendersWithoutAnyRows() throws Exception {
        MetricsCharts.render(List.of(), new org.apache.hadoop.fs.Path(tmp.toUri()), new Configuration());
        assertNotNull(ImageIO.read(tmp.resolve("loss.png").toFile()));
    }
}

package dev.mtpspark.spark.metrics;

import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

import static org.junit.jupiter.api.Assertions.*;

class TrainingReportTest {
    @TempDir
    Path tmp;

    @Test
    void reportTablesTheLastValidationAndTrainingRows() throws Exception {
        List<MetricsRow> rows = Rows.run(3, 120);                // validation at 50 and 100; last train at 120
        org.apache.hadoop.fs.Path written = TrainingReport.write(rows, "tiny-shakespeare n=3",
                new org.apache.hadoop.fs.Path(tmp.toUri()), new Configuration());
        assertEquals("report.md", written.getName());
        String md = Files.readString(tmp.resolve("report.md"));

        assertTrue(md.startsWith("# tiny-shakespeare n=3\n"), md);
        assertTrue(md.contains("- **Steps:** 120\n"), md);
        assertTrue(md.contains("- **Tokens seen:** 122,880\n"), md);
        assertTrue(md.contains("- **Wall time:** 0:00:24"), md);
        // mean of 5000 + step over steps 10..120
        assertTrue(md.contains("- **Mean throughput:** 5,065 tokens/s (mean over 12 training log intervals)"), md);
        assertTrue(md.contains("at step 100 (102,400 tokens seen)"), md);

        MetricsRow lastVal = rows.stream().filter(MetricsRow::isValidation).reduce((a, b) -> b).orElseThrow();
        assertEquals(100, lastVal.step());
        String validation = md.substring(md.indexOf("## Validation"), md.indexOf("## Training"));
        assertTrue(validation.contains("| k | loss | perplexity | top-1 accuracy | top-5 accuracy |"), validation);
        for (int k = 1; k <= 3; k++) {
            String line = String.format(Locale.ROOT, "| %d | %.4f | %.3f | %.4f | %.4f |", k, lastVal.loss()[k - 1],
                    lastVal.perplexity()[k - 1], lastVal.accuracy()[k - 1], lastVal.top5()[k - 1]);
            assertTrue(validation.contains(line), line + " in\n" + validation);
        }
        // h1 of the validation pass at step 100: loss 3/(1+1) + 0.1 + 0.5 = 2.1, accuracy 20/40, top-5 40/40
        assertTrue(validation.contains("| 1 | 2.1000 | 8.166 | 0.5000 | 1.0000 |"), validation);

        MetricsRow lastTrain = rows.get(rows.size() - 1);
        String training = md.substring(md.indexOf("## Training"), md.indexOf("## Charts"));
        assertTrue(training.contains("at step 120"), training);
        assertTrue(training.contains(String.format(Locale.ROOT, "| 2 | %.4f | %.3f |", lastTrain.loss()[1],
                lastTrain.perplexity()[1])), training);
        assertTrue(md.contains("](loss.png)") && md.contains("](accuracy.png)"), md);
    }

    @Test
    void tablesTheTaskScoresOfEveryValidationPass() {
        String md = TrainingReport.markdown(Rows.runWithTaskScores(2, 100), "induction");
        String tasks = md.substring(md.indexOf("## Task scores"), md.indexOf("## Training"));
        assertTrue(tasks.contains("| step | tokens seen | task/induction-copy-acc | task/induction-copy-letters |"), tasks);
        assertTrue(tasks.contains("| 50 | 51,200 | 0.0500 | 1234.0000 |"), tasks);
        assertTrue(tasks.contains("| 100 | 102,400 | 0.1000 | 1234.0000 |"), tasks);
        assertTrue(md.contains("](tasks.png)"), md);
        assertFalse(TrainingReport.markdown(Rows.run(2, 100), "plain").contains("Task scores"));
    }

    @Test
    void saysSoWhenThereIsNoValidationRow() {
        List<MetricsRow> trainOnly = Rows.run(2, 40);
        assertTrue(trainOnly.stream().noneMatch(MetricsRow::isValidation));
        String md = TrainingReport.markdown(trainOnly, "run");
        String validation = md.substring(md.indexOf("## Validation"), md.indexOf("## Training"));
        assertTrue(validation.contains("No validation pass has been logged yet"), validation);
        assertFalse(validation.contains("| k |"), validation);
        assertTrue(md.substring(md.indexOf("## Training")).contains("| 1 | "), md);
        assertTrue(TrainingReport.markdown(List.of(), "empty").contains("No metrics have been logged yet"));
    }
}

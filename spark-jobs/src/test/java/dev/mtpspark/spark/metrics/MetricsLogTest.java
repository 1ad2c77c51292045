package dev.mtpspark.spark.metrics;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mtpspark.core.stats.HorizonStats;
import dev.mtpspark.spark.tokenize.BadInputException;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.FileNotFoundException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class MetricsLogTest {
    private static final Configuration CONF = new Configuration();

    @TempDir
    Path tmp;

    private org.apache.hadoop.fs.Path dir() {
        return new org.apache.hadoop.fs.Path(tmp.toUri());
    }

    @Test
    void taskScoresRoundTripAndGetCsvColumnsAfterTheHorizons() throws Exception {
        List<MetricsRow> written = new ArrayList<>(Rows.runWithTaskScores(2, 100));
        MetricsRow nanScore = written.get(written.size() - 1).withTaskScores(
                java.util.Map.of("task/induction-copy-acc", Double.NaN));
        written.add(nanScore);
        MetricsLog log = MetricsLog.open(dir(), CONF, 2, -1);
        written.forEach(log::append);
        log.flush();

        List<MetricsRow> read = MetricsLog.read(dir(), CONF);
        assertEquals(written, read);
        assertEquals(0.05, read.get(5).taskScores().get("task/induction-copy-acc"));   // the validation row at step 50
        assertTrue(read.get(0).taskScores().isEmpty());

        List<String> csv = Files.readAllLines(tmp.resolve(MetricsLog.CSV));
        List<String> header = List.of(csv.get(0).split(","));
        assertEquals(MetricsLog.columns(2, List.of("task/induction-copy-acc", "task/induction-copy-letters")), header);
        for (int i = 1; i < csv.size(); i++) {
            String[] cells = csv.get(i).split(",", -1);
            assertEquals(header.size(), cells.length, "line " + i + " has every column");
        }
        String[] trainLine = csv.get(1).split(",");
        assertEquals("NaN", trainLine[header.indexOf("task/induction-copy-acc")]);      // training rows score no task
        String[] validationAt50 = csv.get(6).split(",");
        assertEquals("validation", validationAt50[0]);
        assertEquals(0.05, Double.parseDouble(validationAt50[header.indexOf("task/induction-copy-acc")]));
        assertEquals(1234.0, Double.parseDouble(validationAt50[header.indexOf("task/induction-copy-letters")]));
        assertThrows(IllegalArgumentException.class, () -> read.get(0).withTaskScores(java.util.Map.of("acc/h1", 1.0)));
    }

    @Test
    void rowsRoundTripThroughJsonlIncludingNonFiniteValues() throws Exception {
        HorizonStats partial = Rows.stats(3, 10, 2.0);
        HorizonStats empty3 = new HorizonStats(3);               // no tokens: loss, accuracy, … are NaN
        for (int k = 1; k <= 2; k++) {
            empty3.add(k, 1.25 * k, k == 1, true);
        }
        MetricsRow withNaN = MetricsRow.of(MetricsRow.VALIDATION, 20, 40_960, 2.5e-4, Double.NaN, 12.5, empty3,
                Rows.weights(3));
        assertTrue(Double.isNaN(withNaN.loss()[2]) && Double.isNaN(withNaN.totalLoss()));
        MetricsRow withInf = new MetricsRow(MetricsRow.TRAIN, 30, 61_440, 0.0, Double.POSITIVE_INFINITY, 13.0,
                1.5, new double[]{1.0, 2.0, 800.0}, new double[]{0.5, 0.25, 0.0}, new double[]{0.75, 0.5, 0.125},
                new double[]{Math.E, Math.exp(2), Double.POSITIVE_INFINITY}, new long[]{5, 5, 0});
        List<MetricsRow> written = List.of(MetricsRow.of(MetricsRow.TRAIN, 10, 20_480, 1e-3, 12_345.678, 6.25,
                partial, new double[]{1.0, 0.5, 0.25}), withNaN, withInf);

        MetricsLog log = MetricsLog.open(dir(), CONF, 3, -1);
        assertTrue(log.rows().isEmpty());
        written.forEach(log::append);
        log.flush();
        log.flush();                                              // rewriting over existing files works too

        List<MetricsRow> read = MetricsLog.read(dir(), CONF);
        assertEquals(written, read);
        assertTrue(Double.isNaN(read.get(1).loss()[2]));
        assertTrue(Double.isNaN(read.get(1).tokensPerSecond()));
        assertEquals(Double.POSITIVE_INFINITY, read.get(2).perplexity()[2]);
        assertEquals(2.5 * 1.0 + 3.0 * 0.5 + 3.5 * 0.25, read.get(0).totalLoss(), 1e-12);   // Σ w_k·loss_k
        assertFalse(Files.exists(tmp.resolve("metrics.jsonl.tmp")));
        assertFalse(Files.exists(tmp.resolve("metrics.csv.tmp")));
        try (var files = Files.list(tmp)) {                     // no .crc sidecars from Hadoop's checksummed local FS
            assertEquals(List.of("metrics.csv", "metrics.jsonl"),
                    files.map(f -> f.getFileName().toString()).sorted().toList());
        }

        // The documented encoding: NaN → null, ∞ → "Infinity"; keys in the documented order.
        List<String> lines = Files.readAllLines(tmp.resolve(MetricsLog.JSONL), StandardCharsets.UTF_8);
        assertEquals(3, lines.size());
        JsonNode nan = new ObjectMapper().readTree(lines.get(1));
        assertTrue(nan.get("loss/h3").isNull());
        assertTrue(nan.get("tokens_per_s").isNull());
        assertEquals(0, nan.get("tokens/h3").asLong());
        JsonNode inf = new ObjectMapper().readTree(lines.get(2));
        assertEquals("Infinity", inf.get("ppl/h3").asText());
        List<String> keys = new ArrayList<>();
        for (Iterator<String> it = inf.fieldNames(); it.hasNext(); ) {
            keys.add(it.next());
        }
        assertEquals(MetricsLog.columns(3), keys);
        assertEquals(List.of("split", "step", "tokens_seen", "lr", "tokens_per_s", "elapsed_s", "loss/total",
                "loss/h1", "acc/h1", "top5/h1", "ppl/h1", "tokens/h1"), MetricsLog.columns(1));
    }

    @Test
    void flushWritesOnlyWhenRowsChanged() throws Exception {
        MetricsLog log = MetricsLog.open(dir(), CONF, 2, -1);
        log.flush();                                              // a new log writes header-only files
        assertEquals(List.of(String.join(",", MetricsLog.columns(2))), Files.readAllLines(tmp.resolve(MetricsLog.CSV)));
        assertEquals(0, Files.size(tmp.resolve(MetricsLog.JSONL)));
        log.append(Rows.run(2, 10).get(0));
        log.flush();
        Files.delete(tmp.resolve(MetricsLog.CSV));
        log.flush();                                              // nothing new: no rewrite
        assertFalse(Files.exists(tmp.resolve(MetricsLog.CSV)));
        log.append(Rows.run(2, 20).get(1));
        log.flush();
        assertEquals(3, Files.readAllLines(tmp.resolve(MetricsLog.CSV)).size());
    }

    @Test
    void readAcceptsNaNAsAString() throws Exception {
        MetricsLog log = MetricsLog.open(dir(), CONF, 1, -1);
        log.append(MetricsRow.of(MetricsRow.TRAIN, 1, 8, 0.1, 10, 1, Rows.stats(1, 4, 1.0), new double[]{1}));
        log.flush();
        Path file = tmp.resolve(MetricsLog.JSONL);
        Files.writeString(file, Files.readString(file).replace("\"lr\":0.1", "\"lr\":\"NaN\""));
        assertTrue(Double.isNaN(MetricsLog.read(dir(), CONF).get(0).learningRate()));
    }

    @Test
    void csvHasTheHeaderAndOneLinePerRow() throws Exception {
        MetricsLog log = MetricsLog.open(dir(), CONF, 2, -1);
        HorizonStats s = new HorizonStats(2);
        s.add(1, 2.0, true, true);
        s.add(1, 1.0, false, true);
        s.add(2, 3.0, false, false);
        s.add(2, 4.0, false, true);
        log.append(MetricsRow.of(MetricsRow.TRAIN, 100, 204_800, 5e-4, 1500.5, 42.0, s, new double[]{1.0, 0.5}));
        log.append(MetricsRow.of(MetricsRow.VALIDATION, 100, 204_800, 5e-4, Double.NaN, 43.0, s, new double[]{1.0, 0.5}));
        log.flush();

        List<String> lines = Files.readAllLines(tmp.resolve(MetricsLog.CSV), StandardCharsets.UTF_8);
        assertEquals(3, lines.size());
        assertEquals("split,step,tokens_seen,lr,tokens_per_s,elapsed_s,loss/total,"
                + "loss/h1,acc/h1,top5/h1,ppl/h1,tokens/h1,loss/h2,acc/h2,top5/h2,ppl/h2,tokens/h2", lines.get(0));
        String[] train = lines.get(1).split(",", -1);
        assertEquals(17, train.length);
        assertEquals("train", train[0]);
        assertEquals(100, Long.parseLong(train[1]));
        assertEquals(204_800, Long.parseLong(train[2]));
        assertEquals(5e-4, Double.parseDouble(train[3]));
        assertEquals(1500.5, Double.parseDouble(train[4]));
        assertEquals(1.5 * 1.0 + 3.5 * 0.5, Double.parseDouble(train[6]), 1e-12);   // loss/total = Σ w_k·loss_k
        assertEquals(1.5, Double.parseDouble(train[7]), 1e-12);                      // loss/h1
        assertEquals(0.5, Double.parseDouble(train[8]));                             // acc/h1
        assertEquals(1.0, Double.parseDouble(train[9]));                             // top5/h1
        assertEquals(Math.exp(1.5), Double.parseDouble(train[10]), 1e-12);           // ppl/h1
        assertEquals(2, Long.parseLong(train[11]));                                  // tokens/h1
        assertEquals(3.5, Double.parseDouble(train[12]), 1e-12);                     // loss/h2
        assertEquals(0.0, Double.parseDouble(train[13]));                            // acc/h2
        assertEquals(0.5, Double.parseDouble(train[14]));                            // top5/h2
        assertEquals("validation", lines.get(2).split(",")[0]);
        assertEquals("NaN", lines.get(2).split(",")[4]);
    }

    @Test
    void resumeKeepsOnlyRowsUpToTheCheckpointStep() throws Exception {
        List<MetricsRow> all = Rows.run(2, 100);                 // train every 10 steps, validation at 50 and 100
        MetricsLog log = MetricsLog.open(dir(), CONF, 2, -1);
        all.forEach(log::append);
        log.flush();
        assertEquals(12, MetricsLog.read(dir(), CONF).size());

        MetricsLog resumed = MetricsLog.open(dir(), CONF, 2, 50);
        List<MetricsRow> kept = resumed.rows();
        assertEquals(6, kept.size());                            // steps 10..50 and the validation at 50
        assertTrue(kept.stream().allMatch(r -> r.step() <= 50));
        assertEquals(all.subList(0, 6), kept);
        // The files were rewritten at once, so a charts run in between shows no rows from the abandoned future.
        assertEquals(kept, MetricsLog.read(dir(), CONF));
        assertEquals(7, Files.readAllLines(tmp.resolve(MetricsLog.CSV)).size());

        MetricsRow next = Rows.run(2, 60).get(6);
        assertEquals(60, next.step());
        resumed.append(next);
        resumed.flush();
        assertEquals(7, MetricsLog.read(dir(), CONF).size());
        assertEquals(60, MetricsLog.read(dir(), CONF).get(6).step());

        assertTrue(MetricsLog.open(dir(), CONF, 2, -1).rows().isEmpty(), "a fresh run discards everything");
    }

    @Test
    void openRejectsAFileWithAnotherNumberOfHorizons() throws Exception {
        MetricsLog log = MetricsLog.open(dir(), CONF, 4, -1);
        Rows.run(4, 20).forEach(log::append);
        log.flush();
        BadInputException e = assertThrows(BadInputException.class, () -> MetricsLog.open(dir(), CONF, 2, 1000));
        String file = new org.apache.hadoop.fs.Path(dir(), MetricsLog.JSONL).toString();
        assertTrue(e.getMessage().contains(file + " line 1"), e.getMessage());
        assertTrue(e.getMessage().contains("has 4 horizons"), e.getMessage());
        assertTrue(e.getMessage().contains("expected 2"), e.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> MetricsLog.open(dir(), CONF, 4, 1000).append(Rows.run(2, 10).get(0)));
    }

    @Test
    void unreadableLinesAreReportedWithFileAndLine() throws Exception {
        MetricsLog log = MetricsLog.open(dir(), CONF, 2, -1);
        Rows.run(2, 20).forEach(log::append);
        log.flush();
        Path file = tmp.resolve(MetricsLog.JSONL);
        List<String> lines = new ArrayList<>(Files.readAllLines(file));
        lines.set(1, lines.get(1).substring(0, 40));             // a torn line
        Files.write(file, lines);
        BadInputException e = assertThrows(BadInputException.class, () -> MetricsLog.read(dir(), CONF));
        assertTrue(e.getMessage().contains(MetricsLog.JSONL + " line 2"), e.getMessage());

        lines.set(1, lines.get(0).replace("\"step\":10", "\"step\":\"ten\""));
        Files.write(file, lines);
        e = assertThrows(BadInputException.class, () -> MetricsLog.open(dir(), CONF, 2, 100));
        assertTrue(e.getMessage().contains("line 2") && e.getMessage().contains("\"step\""), e.getMessage());

        Files.delete(file);
        assertThrows(FileNotFoundException.class, () -> MetricsLog.read(dir(), CONF));
        assertTrue(MetricsLog.open(dir(), CONF, 2, 100).rows().isEmpty());
    }

    @Test
    void rowsAreImmutableAndValidated() {
        MetricsRow row = Rows.run(2, 10).get(0);
        row.loss()[0] = 99;
        assertNotEquals(99, row.loss()[0]);
        assertEquals(2, row.horizons());
        assertThrows(IllegalArgumentException.class, () -> new MetricsRow("test", 1, 1, 0, 0, 0, 0,
                new double[1], new double[1], new double[1], new double[1], new long[1]));
        assertThrows(IllegalArgumentException.class, () -> new MetricsRow("train", 1, 1, 0, 0, 0, 0,
                new double[2], new double[1], new double[1], new double[1], new long[1]));
    }
}

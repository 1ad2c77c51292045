package dev.mtpspark.spark.metrics;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mtpspark.spark.tokenize.BadInputException;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.BufferedReader;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The metrics files of one training run directory (any Hadoop path: file://, hdfs://, s3a://).
 *
 * <ul>
 *   <li>{@value #JSONL}: one JSON object per row, keys in this order: {@code split}, {@code step},
 *       {@code tokens_seen}, {@code lr}, {@code tokens_per_s}, {@code elapsed_s}, {@code loss/total}, then for each
 *       horizon k = 1..n: {@code loss/h{k}}, {@code acc/h{k}}, {@code top5/h{k}}, {@code ppl/h{k}},
 *       {@code tokens/h{k}}; then a synthetic task's scores ({@code task/…}, {@code evaluation.task}) on the
 *       validation rows that measured them.</li>
 *   <li>{@value #CSV}: the same columns, a header line, one row per line (a run has a fixed n, so fixed columns;
 *       the task columns are those of any row, NaN where a row has none).</li>
 * </ul>
 *
 * <p><b>Non-finite values.</b> In JSONL, NaN is written as JSON {@code null}, and ±∞ as the strings
 * {@code "Infinity"} / {@code "-Infinity"} (so the file stays strict JSON and every value round-trips exactly);
 * reading also accepts the string {@code "NaN"}. In CSV they are written {@code NaN}, {@code Infinity},
 * {@code -Infinity} (what pandas and spreadsheets parse).
 *
 * <p>Object stores have no append, so the rows are kept in memory and {@link #flush()} rewrites both files whole,
 * each atomically ({@code name.tmp}, then rename). Flush at the logging or validation cadence, not per step. The
 * methods are synchronized, so the driver may log from more than one thread.
 */
public final class MetricsLog {
    private static final Logger LOG = LoggerFactory.getLogger(MetricsLog.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    /** File name of the JSON-lines log. */
    public static final String JSONL = "metrics.jsonl";
    /** File name of the CSV copy. */
    public static final String CSV = "metrics.csv";

    private final Path dir;
    private final FileSystem fs;
    private final int horizons;
    private final List<MetricsRow> rows;
    private boolean dirty = true;                       // rows differ from the files (the first flush always writes)

    private MetricsLog(Path dir, FileSystem fs, int horizons, List<MetricsRow> rows) {
        this.dir = dir;
        this.fs = fs;
        this.horizons = horizons;
        this.rows = rows;
    }

    /**
     * Opens the log of run directory {@code dir} for a run of {@code horizons} heads. Rows already in
     * {@value #JSONL} with {@code step ≤ keepUpToStep} are kept and later ones dropped: on resume from a checkpoint
     * at step s pass s, so rows logged after that checkpoint disappear; for a fresh run pass −1 to discard all.
     * When rows were dropped, both files are rewritten at once.
     *
     * @throws BadInputException when {@value #JSONL} is unreadable or was written for another number of horizons
     *                           (the message names the file and line)
     */
    public static MetricsLog open(Path dir, Configuration conf, int horizons, long keepUpToStep) throws IOException {
        if (horizons < 1) {
            throw new IllegalArgumentException("horizons must be ≥ 1, got " + horizons);
        }
        FileSystem fs = HadoopFiles.fileSystem(dir, conf);
        Path file = new Path(dir, JSONL);
        List<MetricsRow> kept = new ArrayList<>();
        int dropped = 0;
        if (fs.exists(file)) {
            for (MetricsRow row : parse(fs, file, horizons)) {
                if (row.step() <= keepUpToStep) {
                    kept.add(row);
                } else {
                    dropped++;
                }
            }
            LOG.info("metrics: resuming {} with {} rows up to step {} ({} later rows dropped)", file, kept.size(),
                    keepUpToStep, dropped);
        }
        MetricsLog log = new MetricsLog(dir, fs, horizons, kept);
        if (dropped > 0) {
            log.flush();                                // the files on disk must not show the discarded future
        }
        return log;
    }

    /**
     * All rows of {@code dir}'s {@value #JSONL}, in file order.
     *
     * @throws FileNotFoundException when the file does not exist
     * @throws BadInputException     when it is unreadable (the message names the file and line)
     */
    public static List<MetricsRow> read(Path dir, Configuration conf) throws IOException {
        Path file = new Path(dir, JSONL);
        FileSystem fs = HadoopFiles.fileSystem(file, conf);
        if (!fs.exists(file)) {
            throw new FileNotFoundException("no metrics file " + file);
        }
        return parse(fs, file, 0);
    }

    /** Adds a row (in memory until {@link #flush()}). */
    public synchronized void append(MetricsRow row) {
        if (row.horizons() != horizons) {
            throw new IllegalArgumentException("row has " + row.horizons() + " horizons, the log of " + dir + " has "
                    + horizons);
        }
        rows.add(row);
        dirty = true;
    }

    /**
     * Rewrites {@value #JSONL} and {@value #CSV} with all rows; does nothing when no row was appended since the
     * last flush, so calling it every step costs nothing between log intervals (each rewrite is O(rows), and on S3
     * a rename is a copy).
     */
    public synchronized void flush() throws IOException {
        if (!dirty) {
            return;
        }
        StringBuilder jsonl = new StringBuilder();
        Set<String> taskNames = new LinkedHashSet<>();
        rows.forEach(r -> taskNames.addAll(r.taskScores().keySet()));
        StringBuilder csv = new StringBuilder(String.join(",", columns(horizons, taskNames))).append('\n');
        for (MetricsRow row : rows) {
            jsonl.append(MetricsRowFormat.toJson(row)).append('\n');
            csv.append(MetricsRowFormat.toCsv(row, taskNames)).append('\n');
        }
        HadoopFiles.writeAtomically(fs, new Path(dir, JSONL), jsonl.toString().getBytes(StandardCharsets.UTF_8));
        HadoopFiles.writeAtomically(fs, new Path(dir, CSV), csv.toString().getBytes(StandardCharsets.UTF_8));
        dirty = false;
        LOG.debug("metrics: wrote {} rows to {}", rows.size(), dir);
    }

    /** A snapshot of the rows, in order of appending (loaded ones first). */
    public synchronized List<MetricsRow> rows() {
        return List.copyOf(rows);
    }

    public int horizons() {
        return horizons;
    }

    public Path dir() {
        return dir;
    }

    /** The column names of a run with n horizons, in file order. */
    public static List<String> columns(int horizons) {
        return columns(horizons, List.of());
    }

    /** The column names of a run with n horizons and these task scores, in file order. */
    public static List<String> columns(int horizons, Collection<String> taskNames) {
        List<String> cols = new ArrayList<>(List.of("split", "step", "tokens_seen", "lr", "tokens_per_s", "elapsed_s",
                "loss/total"));
        for (int k = 1; k <= horizons; k++) {
            cols.addAll(List.of("loss/h" + k, "acc/h" + k, "top5/h" + k, "ppl/h" + k, "tokens/h" + k));
        }
        cols.addAll(taskNames);
        return cols;
    }

    /** Parses {@code file}; {@code expectedHorizons} 0 takes n from the first row (then all rows must agree). */
    private static List<MetricsRow> parse(FileSystem fs, Path file, int expectedHorizons) throws IOException {
        List<MetricsRow> out = new ArrayList<>();
        int n = expectedHorizons;
        try (FSDataInputStream in = fs.open(file);
             BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
            String line;
            int lineNo = 0;
            while ((line = reader.readLine()) != null) {
                lineNo++;
                if (line.isBlank()) {
                    continue;
                }
                String where = file + " line " + lineNo;
                JsonNode node;
                try {
                    node = JSON.readTree(line);
                } catch (JsonProcessingException e) {
                    throw new BadInputException(where + " is not valid JSON: " + e.getOriginalMessage());
                }
                if (node == null || !node.isObject()) {
                    throw new BadInputException(where + " is not a JSON object");
                }
                int rowHorizons = 0;
                while (node.has("loss/h" + (rowHorizons + 1))) {
                    rowHorizons++;
                }
                if (rowHorizons == 0) {
                    throw new BadInputException(where + " has no per-horizon columns (loss/h1 is missing)");
                }
                if (n == 0) {
                    n = rowHorizons;
                } else if (rowHorizons != n) {
                    throw new BadInputException(where + " has " + rowHorizons + " horizons (loss/h1..loss/h"
                            + rowHorizons + "), expected " + n + (expectedHorizons > 0
                            ? ": the metrics were written by a run that predicts a different number of tokens"
                            : " like the rows before it"));
                }
                out.add(MetricsRowFormat.toRow(node, n, where));
            }
        }
        return out;
    }

}

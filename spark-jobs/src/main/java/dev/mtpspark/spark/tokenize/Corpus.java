package dev.mtpspark.spark.tokenize;

import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;

/**
 * The documents of a corpus, spread over Spark tasks: text and JSON-lines files are read one task per group
 * of files with {@link CorpusReader}; Parquet through Spark SQL. A pass runs a {@link PartitionWork} on every
 * task and returns one result per task.
 */
final class Corpus implements Serializable {
    private final TokenizeConfig config;
    private final List<SourceFile> files;
    private final HadoopConf conf;

    Corpus(TokenizeConfig config, List<SourceFile> files, HadoopConf conf) {
        this.config = config;
        this.files = files;
        this.conf = conf;
    }

    List<SourceFile> files() {
        return files;
    }

    /** Work done on one task's share of the documents. */
    interface PartitionWork<R> extends Serializable {
        /** @param readAll calls the handler for every document of this task, in a deterministic order */
        R run(int partition, DocumentFeed readAll, TokenizeStats stats) throws Exception;
    }

    /** Pushes a task's documents into a handler. */
    interface DocumentFeed {
        void into(DocumentHandler handler);
    }

    /**
     * Runs {@code work} on every task; {@code what} names the pass in the progress lines. With {@code checksums}, the
     * stats record each file's SHA-256, for the manifest; the passes before the last (vocabulary scans) skip it.
     */
    <R extends Serializable> List<R> run(SparkSession spark, String what, boolean checksums, PartitionWork<R> work) {
        if (config.format() == TokenizeConfig.InputFormat.PARQUET) {
            String[] paths = files.stream().map(SourceFile::path).toArray(String[]::new);
            JavaRDD<Row> rows = spark.read().parquet(paths).select(config.parquetColumn()).javaRDD();
            return rows.mapPartitionsWithIndex((index, it) -> {
                TokenizeStats stats = new TokenizeStats();
                R r = work.run(index, handler -> feedRows(it, handler, stats), stats);
                return List.of(r).iterator();
            }, false).collect();
        } else {
            JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
            List<List<SourceFile>> splits = splits(files, config.splitBytes(), config.partitions(), jsc.defaultParallelism());
            long[] bytes = splits.stream().mapToLong(g -> g.stream().mapToLong(SourceFile::size).sum()).toArray();
            // Locals, not fields: a lambda reading a field captures this Corpus and its whole file list, which every
            // task would then deserialize (the splits carry each task's own files).
            TokenizeConfig taskConfig = config;
            HadoopConf taskConf = conf;
            try (TaskProgress progress = new TaskProgress(spark.sparkContext(), what, bytes)) {
                List<R> results = jsc.parallelize(splits, splits.size()).mapPartitionsWithIndex((index, it) -> {
                    TokenizeStats stats = new TokenizeStats();
                    CorpusReader reader = new CorpusReader(taskConfig, taskConf.get());
                    R r = work.run(index, handler -> it.forEachRemaining(group -> group.forEach(f -> {
                        String sha256 = reader.read(f, handler, stats, checksums);
                        if (sha256 != null) {
                            stats.checksums.put(f.path(), sha256);
                        }
                    })), stats);
                    return List.of(r).iterator();
                }, false).collect();
                try {
                    progress.awaitLastLine();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                return results;
            }
        }
    }

    /**
     * Files packed, in order, into splits of about {@code target} bytes, as Spark's file sources do
     * ({@code maxPartitionBytes}): the target is {@code min(splitBytes, max(4 MiB, total / parallelism))}, so a
     * small corpus still spreads over the cores and thousands of small files do not become thousands of tasks
     * (and shards); at most {@code maxSplits} splits. When that makes more splits than cores, their number is
     * rounded up to a multiple of the cores, so the last wave of tasks does not leave cores idle (five splits of
     * 128 MiB on two cores take three task lengths; six of 101 MiB take three shorter ones). A file is never cut:
     * one larger than the target is a split.
     */
    static List<List<SourceFile>> splits(List<SourceFile> files, long splitBytes, int maxSplits, int parallelism) {
        long total = 0;
        for (SourceFile f : files) {
            total += f.size();
        }
        int cores = Math.max(1, parallelism);
        long target = Math.min(splitBytes, Math.max(4L << 20, total / cores));
        long count = (total + target - 1) / Math.max(1, target);
        if (count > cores) {
            long balanced = Math.min(Math.max(1, maxSplits), (count + cores - 1) / cores * cores);
            target = (total + balanced - 1) / balanced;
        }
        target = Math.max(target, (total + maxSplits - 1) / Math.max(1, maxSplits));
        // Split k ends at the first file that would cross (k + 1) · target of the running total, so the slack that
        // packing whole files leaves in one split goes to the next instead of adding a small split at the end; after
        // a file larger than the target, the next split gets a whole target from where it starts.
        List<List<SourceFile>> out = new java.util.ArrayList<>();
        List<SourceFile> current = new java.util.ArrayList<>();
        long done = 0;
        long end = target;
        for (SourceFile f : files) {
            if (!current.isEmpty() && done + f.size() > end) {
                out.add(current);
                current = new java.util.ArrayList<>();
                end = Math.max(end, done) + target;
            }
            current.add(f);
            done += f.size();
        }
        if (!current.isEmpty()) {
            out.add(current);
        }
        return out;
    }

    /** Parquet rows: a document per non-null, non-empty value, keyed by its content's SHA-256. */
    private static void feedRows(Iterator<Row> rows, DocumentHandler handler, TokenizeStats stats) {
        MessageDigest sha;
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        while (rows.hasNext()) {
            Row row = rows.next();
            if (row.isNullAt(0)) {
                stats.nullValues++;
                continue;
            }
            byte[] text = row.getString(0).getBytes(StandardCharsets.UTF_8);
            if (text.length == 0) {
                continue;
            }
            handler.startDocument(HexFormat.of().formatHex(sha.digest(text)));
            handler.bytes(text, 0, text.length);
            handler.endDocument();
        }
    }
}

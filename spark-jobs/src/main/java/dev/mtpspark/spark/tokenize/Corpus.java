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

    <R extends Serializable> List<R> run(SparkSession spark, PartitionWork<R> work) {
        JavaRDD<R> results;
        if (config.format() == TokenizeConfig.InputFormat.PARQUET) {
            String[] paths = files.stream().map(SourceFile::path).toArray(String[]::new);
            JavaRDD<Row> rows = spark.read().parquet(paths).select(config.parquetColumn()).javaRDD();
            results = rows.mapPartitionsWithIndex((index, it) -> {
                TokenizeStats stats = new TokenizeStats();
                R r = work.run(index, handler -> feedRows(it, handler, stats), stats);
                return List.of(r).iterator();
            }, false);
        } else {
            JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
            int slices = Math.min(files.size(), config.partitions());
            results = jsc.parallelize(files, slices).mapPartitionsWithIndex((index, it) -> {
                TokenizeStats stats = new TokenizeStats();
                CorpusReader reader = new CorpusReader(config, conf.get());
                R r = work.run(index, handler -> it.forEachRemaining(f ->
                        stats.checksums.put(f.path(), reader.read(f, handler, stats))), stats);
                return List.of(r).iterator();
            }, false);
        }
        return results.collect();
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

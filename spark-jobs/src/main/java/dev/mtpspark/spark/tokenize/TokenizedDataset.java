package dev.mtpspark.spark.tokenize;

import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

/** Reads a dataset written by {@link TokenizeJob}: columns {@code tokens: array<int>} and {@code split}. */
public final class TokenizedDataset {
    private TokenizedDataset() {
    }

    /** All windows; the glob filter keeps {@code manifest.json} and {@code tokenizer.json} out of the Parquet scan. */
    public static Dataset<Row> windows(SparkSession spark, String datasetDir) {
        return spark.read().option("pathGlobFilter", "*.parquet").parquet(datasetDir);
    }

    /** The windows of one split ({@code train} or {@code validation}). */
    public static Dataset<Row> windows(SparkSession spark, String datasetDir, String split) {
        return windows(spark, datasetDir).where(org.apache.spark.sql.functions.col("split").equalTo(split));
    }
}

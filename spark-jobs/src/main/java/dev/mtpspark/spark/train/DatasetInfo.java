package dev.mtpspark.spark.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mtpspark.core.config.MtpModelConfig;
import dev.mtpspark.core.data.Tokenizer;
import dev.mtpspark.core.data.TokenizerFiles;
import dev.mtpspark.spark.tokenize.BadInputException;
import dev.mtpspark.spark.tokenize.TokenizeJob;
import dev.mtpspark.spark.tokenize.TokenizedDataset;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * A tokenized dataset as the training side sees it: its manifest (tokenizer, T, n, split sizes), its
 * tokenizer, and its windows as an RDD of token-id arrays.
 */
public record DatasetInfo(String path, String manifestJson, String tokenizerJson, JsonNode manifest) {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Reads and checks the manifest; errors name the dataset path and what is wrong. */
    public static DatasetInfo read(String dataset, Configuration conf) {
        Path dir = new Path(dataset);
        try {
            FileSystem fs = dir.getFileSystem(conf);
            Path manifestPath = new Path(dir, TokenizeJob.MANIFEST);
            if (!fs.exists(dir)) {
                throw new BadInputException("data.dataset = " + dataset + " does not exist; create it with the tokenize job first");
            }
            if (!fs.exists(manifestPath)) {
                throw new BadInputException("data.dataset = " + dataset + " has no " + TokenizeJob.MANIFEST
                        + "; it is not (or not completely) a tokenize job output");
            }
            String manifest = read(fs, manifestPath);
            String tokenizer = read(fs, new Path(dir, TokenizeJob.TOKENIZER_FILE));
            return new DatasetInfo(dataset, manifest, tokenizer, JSON.readTree(manifest));
        } catch (IOException e) {
            throw new BadInputException("cannot read data.dataset = " + dataset + ": " + e.getMessage());
        }
    }

    public int contextLength() {
        return manifest.path("contextLength").asInt();
    }

    public int predictedTokens() {
        return manifest.path("predictedTokens").asInt();
    }

    public int vocabSize() {
        return manifest.path("tokenizer").path("vocabSize").asInt();
    }

    public long windows(String split) {
        return manifest.path("splits").path(split).path("windows").asLong(0);
    }

    public Tokenizer tokenizer() {
        JsonNode t = manifest.path("tokenizer");
        return TokenizerFiles.fromJson(t.path("type").asText(), tokenizerJson,
                t.hasNonNull("eosToken") ? t.get("eosToken").asText() : null);
    }

    /**
     * Checks every shard against the manifest (present, same size, same checksum where the file system keeps one;
     * no unknown shard); one line naming the shard otherwise. Datasets written before shards were recorded pass.
     */
    public void checkShards(Configuration conf) {
        if (!manifest.has("shards")) {
            return;
        }
        try {
            Path dir = new Path(path);
            dev.mtpspark.spark.tokenize.DatasetShards.check(dir.getFileSystem(conf), dir, manifest.get("shards"));
        } catch (IOException e) {
            throw new BadInputException("cannot check the shards of data.dataset = " + path + ": " + e.getMessage());
        }
    }

    /** Fails unless the windows fit the model: T + n tokens each, ids below the vocabulary size. */
    public void checkFits(MtpModelConfig model, String split) {
        if (contextLength() != model.contextLength()) {
            throw new BadInputException("model.context-length = " + model.contextLength() + " does not match the dataset "
                    + path + " (context length " + contextLength() + "); set model.context-length: " + contextLength()
                    + " or re-tokenize with --context-length " + model.contextLength());
        }
        if (predictedTokens() != model.predictedTokens()) {
            throw new BadInputException("model.predicted-tokens = " + model.predictedTokens() + " does not match the dataset "
                    + path + " (windows for n = " + predictedTokens() + "); set model.predicted-tokens: " + predictedTokens()
                    + " or re-tokenize with --predicted-tokens " + model.predictedTokens());
        }
        if (!manifest.path("splits").has(split)) {
            throw new BadInputException("split " + split + " is not in the dataset " + path + "; it has "
                    + String.join(", ", (Iterable<String>) manifest.path("splits")::fieldNames));
        }
        if (windows(split) == 0) {
            throw new BadInputException("split " + split + " of the dataset " + path + " has no windows (corpus shorter than "
                    + "T + n = " + (contextLength() + predictedTokens()) + " tokens?)");
        }
    }

    /** The windows of a split as token-id arrays. */
    public JavaRDD<int[]> windows(SparkSession spark, String split) {
        return TokenizedDataset.windows(spark, path, split).select("tokens").javaRDD().map(DatasetInfo::tokens);
    }

    private static int[] tokens(Row row) {
        List<Integer> list = row.getList(0);
        int[] out = new int[list.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = list.get(i);
        }
        return out;
    }

    private static String read(FileSystem fs, Path p) throws IOException {
        try (InputStream in = fs.open(p)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }
}

package dev.mtpspark.spark.tokenize;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.mtpspark.core.data.BpeTokenizer;
import dev.mtpspark.core.data.BpeTrainer;
import dev.mtpspark.core.data.ByteTokenizer;
import dev.mtpspark.core.data.CharTokenizer;
import dev.mtpspark.core.data.HuggingFaceTokenizer;
import dev.mtpspark.core.data.Tokenizer;
import dev.mtpspark.core.data.TokenizerFiles;
import dev.mtpspark.core.data.DocumentReader.TextMode;
import dev.mtpspark.spark.tokenize.TokenizeConfig.InputFormat;
import dev.mtpspark.spark.tokenize.TokenizeConfig.SplitMode;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import scala.Tuple2;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * The tokenize job: resolves the corpus, builds (or trains, or loads) the tokenizer, tokenizes every document
 * on the executors into windows of T + n tokens per split, and commits the dataset atomically:
 * {@code split=train/*.parquet}, {@code split=validation/*.parquet}, {@code tokenizer.json} and
 * {@code manifest.json}. Everything is written under a temporary sibling directory that is renamed into place
 * only when complete, so a failed or killed job leaves no manifest and no half-visible dataset.
 */
public final class TokenizeJob {
    private static final Logger LOG = LoggerFactory.getLogger(TokenizeJob.class);
    public static final String MANIFEST = "manifest.json";
    public static final String TOKENIZER_FILE = "tokenizer.json";

    private TokenizeJob() {
    }

    /** Runs the job; returns the manifest it wrote. */
    /** Validates the options, the output path and the inputs without Spark, and describes the run ({@code --dry-run}). */
    public static String plan(TokenizeConfig config, Configuration hadoop) throws IOException {
        Path output = new Path(config.output());
        if (output.getFileSystem(hadoop).exists(output) && !config.overwrite()) {
            throw new BadInputException("output " + output + " already exists; pass --overwrite to replace it");
        }
        List<SourceFile> listed = CorpusFiles.resolve(config.inputs(), hadoop);
        long nonEmpty = listed.stream().filter(f -> f.size() > 0).count();
        if (nonEmpty == 0) {
            throw new BadInputException("empty corpus: all " + listed.size() + " input files are empty (zero bytes), e.g. "
                    + listed.get(0).path());
        }
        return String.format("tokenize: dry run — options and inputs are valid; nothing was written%n"
                        + "  inputs      %d files (%d empty), %d bytes%n  tokenizer   %s, T = %d, n = %d, validation fraction %s%n"
                        + "  output      %s%n", listed.size(), listed.size() - nonEmpty,
                listed.stream().mapToLong(SourceFile::size).sum(), config.tokenizer().name().toLowerCase(),
                config.contextLength(), config.predictedTokens(), config.validationFraction(), output);
    }

    public static Map<String, Object> run(SparkSession spark, TokenizeConfig config) throws IOException {
        long started = System.nanoTime();
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        Configuration hadoop = jsc.hadoopConfiguration();
        Path output = new Path(config.output());
        FileSystem outFs = output.getFileSystem(hadoop);
        output = outFs.makeQualified(output);
        if (outFs.exists(output) && !config.overwrite()) {
            throw new BadInputException("output " + output + " already exists; pass --overwrite to replace it");
        }

        List<SourceFile> listed = CorpusFiles.resolve(config.inputs(), hadoop);
        List<SourceFile> files = listed.stream().filter(f -> f.size() > 0).toList();
        int zeroByteFiles = listed.size() - files.size();
        if (files.isEmpty()) {
            throw new BadInputException("empty corpus: all " + listed.size() + " input files are empty (zero bytes), e.g. "
                    + listed.get(0).path());
        }
        LOG.info("corpus: {} files ({} zero-byte files skipped), {} bytes", files.size(), zeroByteFiles,
                files.stream().mapToLong(SourceFile::size).sum());
        if (config.format() == InputFormat.PARQUET) {
            ParquetInput.validate(spark, files, config.parquetColumn());
        }
        HadoopConf conf = new HadoopConf(hadoop);
        Corpus corpus = new Corpus(config, files, conf);
        boolean contiguous = contiguousSplit(config, files);

        Tokenizer tokenizer = buildTokenizer(spark, config, corpus, contiguous);
        LOG.info("tokenizer: {} with {} ids (eos {})", tokenizer.type(), tokenizer.vocabSize(), tokenizer.eosId());

        long boundary = -1;
        if (contiguous) {
            long characters = jsc.parallelize(files, 1)
                    .map(f -> new CorpusReader(config, conf.get()).countCharacters(f)).first();
            boundary = (long) Math.floor(characters * (1 - config.validationFraction()));
            LOG.info("contiguous split: {} characters, validation starts at character {}", characters, boundary);
        }

        Path tmp = new Path(output.getParent(), "." + output.getName() + ".tmp-" + UUID.randomUUID());
        try {
            TokenizeStats stats = tokenize(spark, config, corpus, tokenizer, boundary, tmp, conf);
            if (stats.totalDocuments() == 0) {
                throw new BadInputException("empty corpus: the " + files.size() + " input files hold no document "
                        + describeProblems(stats));
            }
            if (stats.windows(TokenizeStats.TRAIN) == 0) {
                throw new BadInputException("corpus shorter than one window: the train split has "
                        + stats.tokens(TokenizeStats.TRAIN) + " tokens, a window needs --context-length + --predicted-tokens = "
                        + config.windowLength());
            }
            Map<String, Object> manifest = DatasetManifest.build(config, tokenizer, files, zeroByteFiles, stats, contiguous, boundary);
            manifest.put("shards", DatasetShards.describe(outFs, tmp));
            writeText(outFs, new Path(tmp, TOKENIZER_FILE), TokenizerFiles.toJson(tokenizer));
            writeText(outFs, new Path(tmp, MANIFEST), new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
                    .writeValueAsString(manifest));
            commit(outFs, tmp, output);
            LOG.info("dataset written to {} in {} s: {}", output, (System.nanoTime() - started) / 1_000_000_000, manifest.get("splits"));
            return manifest;
        } finally {
            if (outFs.exists(tmp)) {
                outFs.delete(tmp, true);
            }
        }
    }

    /** nanoGPT's contiguous split applies to one text file read as one document. */
    private static boolean contiguousSplit(TokenizeConfig config, List<SourceFile> files) {
        boolean single = files.size() == 1 && config.format() == InputFormat.TEXT && config.textMode() == TextMode.FILE;
        if (config.split() == SplitMode.CONTIGUOUS && !single) {
            throw new BadInputException("--split contiguous needs exactly one input file with --format text --text-mode file; "
                    + "got " + files.size() + " files, format " + config.format() + ", text mode " + config.textMode());
        }
        return config.split() == SplitMode.CONTIGUOUS || (config.split() == SplitMode.AUTO && single);
    }

    private static String readTokenizerFile(SparkSession spark, TokenizeConfig config) throws IOException {
        Path file = new Path(config.tokenizerFile());
        FileSystem fs = file.getFileSystem(spark.sparkContext().hadoopConfiguration());
        if (!fs.exists(file)) {
            throw new BadInputException("--tokenizer-file " + file + " does not exist");
        }
        try (var in = fs.open(file)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    private static Tokenizer buildTokenizer(SparkSession spark, TokenizeConfig config, Corpus corpus, boolean contiguous)
            throws IOException {
        switch (config.tokenizer()) {
            case BYTE:
                return new ByteTokenizer();
            case HUGGINGFACE: {
                String json = readTokenizerFile(spark, config);
                try {
                    return new HuggingFaceTokenizer(json, config.eosToken());
                } catch (IllegalArgumentException e) {
                    throw new BadInputException("--tokenizer-file " + config.tokenizerFile() + ": " + e.getMessage());
                }
            }
            case CHAR: {
                List<CharVocabulary> parts = corpus.run(spark, "character scan", false, (partition, feed, stats) -> {
                    BitSet seen = new BitSet();
                    EncoderPerDocument handler = new EncoderPerDocument(() -> CharTokenizer.codePointCollector(seen));
                    feed.into(handler);
                    return new CharVocabulary(seen, handler.documents);
                });
                BitSet all = new BitSet();
                long documents = 0;
                for (CharVocabulary v : parts) {
                    all.or(v.seen());
                    documents += v.documents();
                }
                if (all.isEmpty()) {
                    throw new BadInputException("empty corpus: no characters in " + corpus.files().size() + " files");
                }
                return new CharTokenizer(all.stream().toArray(), documents > 1 && !contiguous);
            }
            case BPE: {
                if (config.tokenizerFile() != null) {       // a vocabulary trained before: encode with it, train nothing
                    try {
                        return BpeTokenizer.fromHuggingFaceJson(readTokenizerFile(spark, config));
                    } catch (IllegalArgumentException e) {
                        throw new BadInputException("--tokenizer-file " + config.tokenizerFile() + ": " + e.getMessage());
                    }
                }
                List<HashMap<String, Long>> counts = corpus.run(spark, "BPE pre-token count", false, (partition, feed, stats) -> {
                    HashMap<String, Long> c = new HashMap<>();
                    feed.into(new EncoderPerDocument(() -> BpeTrainer.preTokenCounter(c, config.bpeSpecialTokens())));
                    return c;
                });
                JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
                var merged = jsc.parallelize(counts, Math.max(1, counts.size()))
                        .flatMapToPair(m -> m.entrySet().stream().map(e -> new Tuple2<>(e.getKey(), e.getValue())).iterator())
                        .reduceByKey(Long::sum);
                List<String> specials = config.bpeSpecialTokens();
                return BpeTableTrainer.train(merged, config.bpeVocabSize() - specials.size(), config.bpeMinFrequency())
                        .withSpecialTokens(specials);
            }
            default:
                throw new IllegalStateException(config.tokenizer().toString());
        }
    }

    private static TokenizeStats tokenize(SparkSession spark, TokenizeConfig config, Corpus corpus, Tokenizer tokenizer,
                                          long boundary, Path dataset, HadoopConf conf) {
        String datasetPath = dataset.toString();
        List<TokenizeStats> parts = corpus.run(spark, "tokenize", true, (partition, feed, stats) -> {
            TaskContext task = TaskContext.get();
            long attempt = task == null ? 0 : task.taskAttemptId();
            WindowShardWriter[] writers = new WindowShardWriter[2];
            for (int s = 0; s < 2; s++) {
                writers[s] = new WindowShardWriter(new Path(datasetPath), TokenizeStats.SPLITS[s], partition, attempt, conf.get());
            }
            TokenizingHandler handler = new TokenizingHandler(tokenizer, config.validationFraction(), boundary,
                    config.contextLength(), config.predictedTokens(), writers, stats);
            feed.into(handler);
            handler.finish();
            for (WindowShardWriter w : writers) {
                w.close();
            }
            return stats;
        });
        TokenizeStats total = new TokenizeStats();
        parts.forEach(total::merge);
        return total;
    }

    private static String describeProblems(TokenizeStats stats) {
        return stats.firstJsonProblem == null ? "" : "(first problem: " + stats.firstJsonProblem + "; " + stats.problems() + ")";
    }

    private static void writeText(FileSystem fs, Path path, String text) throws IOException {
        try (FSDataOutputStream out = fs.create(path, true)) {
            out.write(text.getBytes(StandardCharsets.UTF_8));
        }
    }

    /** Renames the complete temporary directory into place; an existing dataset is replaced only after that. */
    private static void commit(FileSystem fs, Path tmp, Path output) throws IOException {
        Path old = null;
        if (fs.exists(output)) {
            old = new Path(output.getParent(), "." + output.getName() + ".old-" + UUID.randomUUID());
            if (!fs.rename(output, old)) {
                throw new IOException("cannot move the existing " + output + " aside to " + old);
            }
        }
        if (!fs.rename(tmp, output)) {
            if (old != null) {
                fs.rename(old, output);
            }
            throw new IOException("cannot rename " + tmp + " to " + output);
        }
        if (old != null) {
            fs.delete(old, true);
        }
    }

    /** The code points and document count of a task's documents. */
    private record CharVocabulary(BitSet seen, long documents) implements java.io.Serializable {
    }

    /** Streams each document through a fresh encoder from {@code encoders} (vocabulary and count passes). */
    private static final class EncoderPerDocument implements DocumentHandler {
        private final java.util.function.Supplier<Tokenizer.Encoder> encoders;
        private Tokenizer.Encoder current;
        private long documents;

        EncoderPerDocument(java.util.function.Supplier<Tokenizer.Encoder> encoders) {
            this.encoders = encoders;
        }

        @Override
        public void startDocument(String key) {
            documents++;
            current = encoders.get();
        }

        @Override
        public void bytes(byte[] data, int offset, int length) {
            current.write(data, offset, length);
        }

        @Override
        public void endDocument() {
            current.finish();
        }
    }

    /** Unused columns are never read; the check reads only Parquet footers. */
    static final class ParquetInput {
        private ParquetInput() {
        }

        static void validate(SparkSession spark, List<SourceFile> files, String column) {
            for (SourceFile f : files) {
                var schema = spark.read().parquet(f.path()).schema();
                StructField field = null;
                for (StructField s : schema.fields()) {
                    if (s.name().equals(column)) {
                        field = s;
                    }
                }
                if (field == null) {
                    throw new BadInputException("Parquet file " + f.path() + " has no column \"" + column + "\" (columns: "
                            + String.join(", ", schema.fieldNames()) + ")");
                }
                if (!field.dataType().equals(DataTypes.StringType)) {
                    throw new BadInputException("Parquet file " + f.path() + ": column \"" + column + "\" is "
                            + field.dataType().simpleString() + ", not string");
                }
            }
        }
    }
}

package dev.mtpspark.spark.tokenize;

import dev.mtpspark.core.data.DocumentReader.TextMode;
import dev.mtpspark.spark.tokenize.TokenizeConfig.InputFormat;
import dev.mtpspark.spark.tokenize.TokenizeConfig.SplitMode;
import dev.mtpspark.spark.tokenize.TokenizeConfig.TokenizerType;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code spark-submit --class dev.mtpspark.spark.tokenize.TokenizeCommand app.jar --input … --output …}:
 * the tokenize job's command line. Exit status 0 on success, 2 for bad input or arguments (the message names
 * the file, option or value), 1 for any other failure.
 */
@Command(name = "tokenize", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Tokenizes corpora in parallel into packed training windows of T + n tokens (Parquet + manifest.json).")
public final class TokenizeCommand implements Callable<Integer> {
    @Option(names = "--input", required = true, split = ",", description = "Files, directories or globs (file://, hdfs://, s3a://); repeatable.")
    List<String> inputs;
    @Option(names = "--format", defaultValue = "text", description = "text, jsonl or parquet (default: ${DEFAULT-VALUE}).")
    String format;
    @Option(names = "--text-mode", defaultValue = "file", description = "For text: file, line or paragraph — what one document is (default: ${DEFAULT-VALUE}).")
    String textMode;
    @Option(names = "--json-field", defaultValue = "text", description = "For jsonl: the text field (default: ${DEFAULT-VALUE}).")
    String jsonField;
    @Option(names = "--parquet-column", defaultValue = "text", description = "For parquet: the string column (default: ${DEFAULT-VALUE}).")
    String parquetColumn;
    @Option(names = "--tokenizer", defaultValue = "byte", description = "byte, char, bpe or huggingface (default: ${DEFAULT-VALUE}).")
    String tokenizer;
    @Option(names = "--bpe-vocab-size", defaultValue = "4096", description = "For bpe: vocabulary size incl. 256 bytes and <|endoftext|> (default: ${DEFAULT-VALUE}).")
    int bpeVocabSize;

    @Option(names = "--bpe-min-frequency", defaultValue = "2", description = "For bpe: merge only pairs seen at least this often (default: ${DEFAULT-VALUE}).")
    int bpeMinFrequency;
    @Option(names = "--bpe-special-tokens", split = ",", description = "For bpe: tokens encoded whole and never merged, "
            + "with ids after <|endoftext|>, e.g. <|pad|>,<|user|> (comma-separated; counted in --bpe-vocab-size).")
    List<String> bpeSpecialTokens = List.of();

    @Option(names = "--tokenizer-file", description = "For huggingface: a tokenizer.json (any Hadoop path). For bpe: a vocabulary trained "
            + "before (a dataset's or exported model's tokenizer.json), used instead of training one.")
    String tokenizerFile;
    @Option(names = "--eos-token", description = "For huggingface: the token placed between documents, e.g. <|endoftext|>.")
    String eosToken;
    @Option(names = "--context-length", defaultValue = "64", description = "T (default: ${DEFAULT-VALUE}).")
    int contextLength;
    @Option(names = "--predicted-tokens", defaultValue = "4", description = "n; windows hold T + n tokens (default: ${DEFAULT-VALUE}).")
    int predictedTokens;
    @Option(names = "--validation-fraction", defaultValue = "0.1", description = "Share of the validation split (default: ${DEFAULT-VALUE}).")
    double validationFraction;
    @Option(names = "--split", defaultValue = "auto", description = "auto, contiguous or document-hash (default: ${DEFAULT-VALUE}).")
    String split;
    @Option(names = "--output", required = true, description = "Dataset directory to create (any Hadoop path).")
    String output;
    @Option(names = "--overwrite", description = "Replace an existing output directory.")
    boolean overwrite;
    @Option(names = "--partitions", defaultValue = "256", description = "Most Spark tasks reading files (default: ${DEFAULT-VALUE}).")
    int partitions;

    @Option(names = "--split-bytes", defaultValue = "134217728", description = "Target input bytes per task: small files are "
            + "packed together, as Spark's maxPartitionBytes does (default: ${DEFAULT-VALUE}, 128 MiB).")
    long splitBytes;

    /** The validated configuration of the parsed command line. */
    public TokenizeConfig config() {
        return new TokenizeConfig(inputs, parse(InputFormat.class, "--format", format),
                parse(TextMode.class, "--text-mode", textMode), jsonField, parquetColumn,
                parse(TokenizerType.class, "--tokenizer", tokenizer), bpeVocabSize, bpeMinFrequency, bpeSpecialTokens, tokenizerFile, eosToken,
                contextLength, predictedTokens, validationFraction, parse(SplitMode.class, "--split", split),
                output, overwrite, partitions, splitBytes);
    }

    static <E extends Enum<E>> E parse(Class<E> type, String option, String value) {
        try {
            return Enum.valueOf(type, value.trim().toUpperCase().replace('-', '_'));
        } catch (IllegalArgumentException e) {
            StringBuilder valid = new StringBuilder();
            for (E c : type.getEnumConstants()) {
                valid.append(valid.length() == 0 ? "" : ", ").append(c.name().toLowerCase().replace('_', '-'));
            }
            throw new BadInputException(option + " = " + value + " is invalid: valid values are " + valid);
        }
    }

    @Option(names = "--dry-run", description = "Validate the options and list the input files, then exit without tokenizing.")
    boolean dryRun;

    @Override
    public Integer call() throws Exception {
        TokenizeConfig config = config();
        if (dryRun) {
            System.out.print(TokenizeJob.plan(config, new org.apache.hadoop.conf.Configuration()));
            return 0;
        }
        SparkSession spark = dev.mtpspark.spark.CommandRunner.sparkSession("mtp-spark tokenize");
        try {
            Map<String, Object> manifest = TokenizeJob.run(spark, config);
            System.out.println(Summary.of(manifest));
            return 0;
        } finally {
            spark.stop();
        }
    }

    public static void main(String[] args) {
        System.exit(execute(args));
    }

    /** Runs the command line and returns the exit status (for tests and embedding). */
    public static int execute(String... args) {
        return dev.mtpspark.spark.CommandRunner.execute(new TokenizeCommand(), args);
    }

    /** The human-readable summary printed at the end of the job. */
    static final class Summary {
        private Summary() {
        }

        @SuppressWarnings("unchecked")
        static String of(Map<String, Object> manifest) {
            StringBuilder sb = new StringBuilder("tokenize: done\n");
            Map<String, Object> tok = (Map<String, Object>) manifest.get("tokenizer");
            sb.append(String.format("  tokenizer   %s, %s ids, eos %s%n", tok.get("type"), tok.get("vocabSize"), tok.get("eosId")));
            ((Map<String, Map<String, Object>>) manifest.get("splits")).forEach((name, c) ->
                    sb.append(String.format("  %-11s %,d documents, %,d tokens, %,d windows (%,d tail tokens)%n", name,
                            c.get("documents"), c.get("tokens"), c.get("windows"), c.get("tailTokensNotInAnyWindow"))));
            sb.append("  input       ").append(manifest.get("inputProblems")).append('\n');
            return sb.toString();
        }
    }
}

package dev.mtpspark.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.mtpspark.core.data.BpeTokenizer;
import dev.mtpspark.core.data.BpeTrainer;
import dev.mtpspark.core.data.ByteTokenizer;
import dev.mtpspark.core.data.CharTokenizer;
import dev.mtpspark.core.data.HuggingFaceTokenizer;
import dev.mtpspark.core.data.Tokenizer;
import dev.mtpspark.spark.tokenize.TokenizeCommand;
import dev.mtpspark.spark.tokenize.TokenizeJob;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Tokenization throughput: each tokenizer on one thread (MB/s per core), then the whole tokenize job on
 * Spark {@code local[*]} over a generated multi-file corpus (MB/s, and per core). Prints the figures and
 * writes them as JSON.
 *
 * <p>Usage: {@code TokenizeBenchmark <corpus.txt> <results.json> [megabytes=32]}
 */
public final class TokenizeBenchmark {
    private TokenizeBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        Path corpus = Path.of(args[0]);
        Path results = Path.of(args[1]);
        int megabytes = args.length > 2 ? Integer.parseInt(args[2]) : 32;
        byte[] seed = Files.readAllBytes(corpus);
        byte[] text = new byte[megabytes << 20];
        for (int pos = 0; pos < text.length; pos += seed.length) {
            System.arraycopy(seed, 0, text, pos, Math.min(seed.length, text.length - pos));
        }
        int cores = Runtime.getRuntime().availableProcessors();

        Map<String, Object> out = new LinkedHashMap<>();
        out.put("benchmark", "tokenize");
        out.put("date", Instant.now().toString());
        out.put("machine", Map.of("cores", cores, "java", System.getProperty("java.version"),
                "os", System.getProperty("os.name") + " " + System.getProperty("os.arch"),
                "maxHeapMiB", Runtime.getRuntime().maxMemory() >> 20));
        out.put("corpus", corpus.getFileName() + " repeated to " + megabytes + " MiB");

        BpeTokenizer bpe = BpeTrainer.train(BpeTrainer.preTokenCounts(new String(seed, StandardCharsets.UTF_8)), 4096);
        String bpeJson = bpe.toHuggingFaceJson();
        Map<String, Tokenizer> tokenizers = new LinkedHashMap<>();
        tokenizers.put("byte", new ByteTokenizer());
        tokenizers.put("char", new CharTokenizer(CharTokenizer.codePointsOf(seed), false));
        tokenizers.put("bpe-4096", bpe);
        tokenizers.put("huggingface(bpe-4096 via DJL)", new HuggingFaceTokenizer(bpeJson, BpeTokenizer.EOS_TOKEN));

        Map<String, Object> single = new LinkedHashMap<>();
        System.out.printf("tokenizer throughput on one thread, %d MiB:%n", megabytes);
        for (var e : tokenizers.entrySet()) {
            e.getValue().encode(text);                                     // warm-up (JIT, caches)
            List<Double> rates = new ArrayList<>();
            long tokens = 0;
            for (int rep = 0; rep < 3; rep++) {
                long t0 = System.nanoTime();
                tokens = e.getValue().encode(text).length;
                rates.add(megabytes / ((System.nanoTime() - t0) / 1e9));
            }
            rates.sort(Double::compare);
            double median = rates.get(1);
            single.put(e.getKey(), Map.of("mbPerSecondPerCore", round(median), "runs", rates.stream().map(TokenizeBenchmark::round).toList(),
                    "tokens", tokens, "bytesPerToken", round((double) text.length / tokens)));
            System.out.printf("  %-30s %8.1f MB/s per core (median of 3: %s), %.2f bytes/token%n", e.getKey(), median,
                    rates.stream().map(TokenizeBenchmark::round).toList(), (double) text.length / tokens);
        }
        out.put("singleThread", single);

        Path dir = Files.createTempDirectory("tokenize-bench");
        Path input = Files.createDirectories(dir.resolve("corpus"));
        int files = 16;
        int perFile = text.length / files;
        for (int f = 0; f < files; f++) {
            Files.write(input.resolve(String.format("part-%02d.txt", f)), java.util.Arrays.copyOfRange(text, f * perFile, (f + 1) * perFile));
        }
        Files.writeString(dir.resolve("bpe.json"), bpeJson);
        Map<String, Object> job = new LinkedHashMap<>();
        SparkSession spark = SparkSession.builder().master("local[*]").appName("tokenize-benchmark")
                .config("spark.ui.enabled", "false").getOrCreate();
        System.out.printf("whole tokenize job on local[*] (%d cores), %d files, %d MiB:%n", cores, files, megabytes);
        try {
            String[][] runs = {
                    {"byte", "--tokenizer", "byte"},
                    {"char", "--tokenizer", "char"},
                    {"huggingface(bpe-4096 via DJL)", "--tokenizer", "huggingface", "--tokenizer-file", dir.resolve("bpe.json").toString(),
                            "--eos-token", BpeTokenizer.EOS_TOKEN},
                    {"bpe-512 trained by the job", "--tokenizer", "bpe", "--bpe-vocab-size", "512"},
            };
            for (String[] run : runs) {
                List<String> a = new ArrayList<>(List.of("--input", input.toString(), "--text-mode", "paragraph",
                        "--output", dir.resolve("out-" + run[0].hashCode()).toString(), "--partitions", String.valueOf(files)));
                a.addAll(List.of(run).subList(1, run.length));
                TokenizeCommand cmd = new TokenizeCommand();
                new CommandLine(cmd).parseArgs(a.toArray(new String[0]));
                long t0 = System.nanoTime();
                TokenizeJob.run(spark, cmd.config());
                double seconds = (System.nanoTime() - t0) / 1e9;
                double rate = megabytes / seconds;
                job.put(run[0], Map.of("seconds", round(seconds), "mbPerSecond", round(rate), "mbPerSecondPerCore", round(rate / cores)));
                System.out.printf("  %-30s %6.1f s  %8.1f MB/s  %8.1f MB/s per core%n", run[0], seconds, rate, rate / cores);
            }
        } finally {
            spark.stop();
        }
        out.put("wholeJob", job);
        Files.createDirectories(results.toAbsolutePath().getParent());
        Files.writeString(results, new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(out));
        System.out.println("results written to " + results);
    }

    private static double round(double v) {
        return Math.round(v * 10) / 10.0;
    }
}

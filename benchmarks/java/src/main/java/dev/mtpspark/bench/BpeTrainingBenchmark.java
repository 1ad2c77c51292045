package dev.mtpspark.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.mtpspark.core.data.BpeTokenizer;
import dev.mtpspark.core.data.BpeTrainer;
import dev.mtpspark.core.data.Tokenizer;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * BPE training time on one machine, split as the tokenize job splits it: counting the pre-tokens of every file
 * under a directory (one thread; the job does this on the executors) and the merges on the pre-token table (the
 * driver's part), for each vocabulary size asked. Prints the figures and writes them as JSON.
 * Usage: {@code BpeTrainingBenchmark <corpus dir> <out.json> <vocab sizes, comma-separated>}.
 */
public final class BpeTrainingBenchmark {
    private BpeTrainingBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        List<Path> files;
        try (Stream<Path> s = Files.walk(dir)) {
            files = s.filter(Files::isRegularFile).sorted().toList();
        }
        long start = System.nanoTime();
        Map<String, Long> table = new HashMap<>();
        long bytes = 0;
        for (Path f : files) {
            byte[] b = Files.readAllBytes(f);
            bytes += b.length;
            Tokenizer.Encoder counter = BpeTrainer.preTokenCounter(table);
            counter.write(b, 0, b.length);
            counter.finish();
        }
        double countSeconds = (System.nanoTime() - start) / 1e9;
        long occurrences = table.values().stream().mapToLong(Long::longValue).sum();
        System.out.printf("corpus %s: %d files, %.1f MB; %d distinct pre-tokens (%d occurrences) counted in %.1f s (%.1f MB/s, one thread)%n",
                dir, files.size(), bytes / 1e6, table.size(), occurrences, countSeconds, bytes / 1e6 / countSeconds);
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("corpus", dir.toString());
        out.put("files", files.size());
        out.put("bytes", bytes);
        out.put("distinct_pre_tokens", table.size());
        out.put("pre_token_occurrences", occurrences);
        out.put("count_seconds_one_thread", countSeconds);
        List<Map<String, Object>> runs = new java.util.ArrayList<>();
        for (String v : args[2].split(",")) {
            int vocab = Integer.parseInt(v.trim());
            long t0 = System.nanoTime();
            BpeTokenizer t = BpeTrainer.train(table, vocab, 2, null);
            double seconds = (System.nanoTime() - t0) / 1e9;
            int merges = t.vocabSize() - 257;
            System.out.printf("  vocabulary %d: %d merges in %.1f s (%.0f merges/s)%n", vocab, merges, seconds, merges / seconds);
            runs.add(Map.of("vocab_size", vocab, "merges", merges, "merge_seconds", seconds));
        }
        out.put("training", runs);
        Files.writeString(Path.of(args[1]), new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(out));
    }
}

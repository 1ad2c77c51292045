package dev.mtpspark.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.mtpspark.core.data.Tokenizer;
import dev.mtpspark.core.generate.SpeculativeSampler;
import dev.mtpspark.core.generate.TextSampler;
import dev.mtpspark.core.model.MtpModel;
import dev.mtpspark.spark.train.CheckpointStore;
import dev.mtpspark.spark.train.GenerateCommand;
import org.apache.hadoop.conf.Configuration;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * Plain KV-cached greedy decoding against greedy self-speculative decoding with k = 2..n drafting heads, in the same
 * process, on one trained checkpoint: {@code --prompts} prompts of {@code --prompt-chars} characters cut at random
 * (fixed seed) from a text file, {@code --tokens} new tokens each (no stop id, so every mode generates the same
 * count). For each prompt every mode runs once, one after the other (interleaved), after a warm-up of
 * {@code --warmup-seconds}. Checks that every speculative output equals the plain one, and reports per mode
 * tokens/s (total tokens ÷ total time), tokens per forward pass, each head's acceptance, the speed-up over plain
 * decoding and the speed-up ÷ tokens per forward (how close a verify pass comes to the cost of a plain step).
 * Run by {@code benchmarks/speculative.sh}.
 *
 * <p>Usage: {@code SpeculativeBenchmark --checkpoint DIR --corpus FILE [--label name] [--prompts 20]
 * [--prompt-chars 64] [--tokens 500] [--warmup-seconds 5] [--seed 7] [--out result.json]}.
 */
public final class SpeculativeBenchmark {
    private SpeculativeBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> a = new LinkedHashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            if (!args[i].startsWith("--")) {
                throw new IllegalArgumentException("expected --key value pairs, got '" + args[i] + "'; see the class comment");
            }
            a.put(args[i].substring(2), args[i + 1]);
        }
        CheckpointStore.Loaded c = CheckpointStore.resolve(require(a, "checkpoint"), new Configuration());
        MtpModel model = c.model();
        Tokenizer tokenizer = GenerateCommand.tokenizer(c);
        String corpus = Files.readString(Path.of(require(a, "corpus")), StandardCharsets.UTF_8);
        int prompts = Integer.parseInt(a.getOrDefault("prompts", "20"));
        int promptChars = Integer.parseInt(a.getOrDefault("prompt-chars", "64"));
        int tokens = Integer.parseInt(a.getOrDefault("tokens", "500"));
        double warmupSeconds = Double.parseDouble(a.getOrDefault("warmup-seconds", "5"));
        Random random = new Random(Long.parseLong(a.getOrDefault("seed", "7")));
        int n = model.config().predictedTokens();

        List<int[]> prompt = new ArrayList<>();
        while (prompt.size() < prompts) {
            int at = random.nextInt(Math.max(1, corpus.length() - promptChars));
            int[] ids = tokenizer.encode(corpus.substring(at, Math.min(corpus.length(), at + promptChars)));
            if (ids.length > 0) {
                prompt.add(Arrays.copyOf(ids, Math.min(ids.length, model.config().contextLength() / 2)));
            }
        }
        TextSampler plain = new TextSampler(model);
        SpeculativeSampler[] speculative = new SpeculativeSampler[n + 1];
        for (int k = 2; k <= n; k++) {
            speculative[k] = new SpeculativeSampler(model, k);
        }
        long warmupEnd = System.nanoTime() + (long) (warmupSeconds * 1e9);
        do {
            plain.generate(prompt.get(0), tokens, 0, 0, null);
            for (int k = 2; k <= n; k++) {
                speculative[k].generate(prompt.get(0), tokens, 0, 0, null, -1);
            }
        } while (System.nanoTime() < warmupEnd);

        long[] nanos = new long[n + 1];               // index 1: plain
        long[] forwards = new long[n + 1];
        long[][] proposed = new long[n + 1][n + 1];
        long[][] accepted = new long[n + 1][n + 1];
        int mismatches = 0;
        for (int[] p : prompt) {
            long start = System.nanoTime();
            int[] expected = plain.generate(p, tokens, 0, 0, null);
            nanos[1] += System.nanoTime() - start;
            forwards[1] += tokens;
            for (int k = 2; k <= n; k++) {
                SpeculativeSampler.Result r = speculative[k].generate(p, tokens, 0, 0, null, -1);
                nanos[k] += r.stats().nanos();
                forwards[k] += r.stats().forwards();
                for (int j = 2; j <= k; j++) {
                    proposed[k][j] += r.stats().proposed()[j];
                    accepted[k][j] += r.stats().accepted()[j];
                }
                mismatches += Arrays.equals(expected, r.tokens()) ? 0 : 1;
            }
        }
        long total = (long) prompts * tokens;
        double plainRate = total * 1e9 / nanos[1];
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("label", a.getOrDefault("label", c.path().toString()));
        out.put("checkpoint", c.path().toString());
        out.put("model", model.config().toString());
        out.put("parameters", model.graph().numParams());
        out.put("prompts", prompts);
        out.put("new_tokens", tokens);
        out.put("outputs_differing_from_plain_greedy", mismatches);
        out.put("plain_tokens_per_second", plainRate);
        List<Map<String, Object>> modes = new ArrayList<>();
        System.out.printf(Locale.ROOT, "%s: plain greedy %.1f tokens/s; %d of %d speculative outputs differ from it%n",
                out.get("label"), plainRate, mismatches, prompts * (n - 1));
        System.out.println("  k   tokens/s   speed-up  tokens/forward  speed-up ÷ tokens/forward  acceptance by head");
        for (int k = 2; k <= n; k++) {
            double rate = total * 1e9 / nanos[k];
            double perForward = (double) total / forwards[k];
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("k", k);
            m.put("tokens_per_second", rate);
            m.put("speedup", rate / plainRate);
            m.put("tokens_per_forward", perForward);
            m.put("speedup_per_token_per_forward", rate / plainRate / perForward);
            StringBuilder heads = new StringBuilder();
            Map<String, Double> acceptance = new LinkedHashMap<>();
            for (int j = 2; j <= k; j++) {
                double rateJ = proposed[k][j] == 0 ? Double.NaN : (double) accepted[k][j] / proposed[k][j];
                acceptance.put("h" + j, rateJ);
                heads.append(String.format(Locale.ROOT, " h%d %.3f", j, rateJ));
            }
            m.put("acceptance", acceptance);
            modes.add(m);
            System.out.printf(Locale.ROOT, "  %-3d %-10.1f %-9.3f %-15.3f %-26.3f%s%n", k, rate, rate / plainRate, perForward,
                    rate / plainRate / perForward, heads);
        }
        out.put("speculative", modes);
        if (a.containsKey("out")) {
            Files.writeString(Path.of(a.get("out")), new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
                    .writeValueAsString(out));
        }
        if (mismatches > 0) {
            System.exit(1);
        }
    }

    private static String require(Map<String, String> a, String key) {
        String v = a.get(key);
        if (v == null) {
            throw new IllegalArgumentException("--" + key + " is required; see the class comment");
        }
        return v;
    }
}

package dev.mtpspark.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.mtpspark.core.config.HeadArchitecture;
import dev.mtpspark.core.config.MtpModelConfig;
import dev.mtpspark.core.generate.TextSampler;
import dev.mtpspark.core.model.MtpModel;
import dev.mtpspark.core.export.NpzExport;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Greedy generation speed of {@link TextSampler}: tokens/s for {@code new-tokens} new tokens after a short prompt,
 * with the generated ids, on a model initialised with a fixed seed (not trained: decoding cost does not depend on
 * the weights' values). Run by {@code benchmarks/generation.sh}.
 *
 * <p>The source uses only API that the previous release has too ({@code MtpModelConfig.builder()},
 * {@code MtpModel.create/save/load}, {@code new TextSampler(model).generate(…)},
 * {@code NpzExport.writeParameters}), so {@code benchmarks/baseline-java.sh} compiles the same class against that
 * release: one saved model zip, two samplers (the KV-cached decoder of this build, the full recomputation of
 * the earlier one).
 *
 * <p>Usage: {@code GenerationBenchmark --model m.zip [--shape shakespeare-char|large] [--weights w.npz]
 * [--config-json c.json] [--prompt-ids 30,27,25] [--new-tokens 500] [--warmup-tokens N] [--warmup-seconds 0] [--repeats 1]
 * [--seed 1337] [--init-std 0.02] [--label name] [--out result.json]}. If {@code --model} exists it is loaded
 * (the shape options are then ignored); otherwise a model of {@code --shape} is created with {@code --seed} and
 * saved there. {@code --weights} writes its parameters as {@code .npz} (DL4J names) and {@code --config-json}
 * its configuration with MtpModelConfig's keys, for {@code benchmarks/reference/generate_reference.py}.
 * One untimed warm-up generation ({@code --warmup-tokens}, default {@code --new-tokens}; repeated until
 * {@code --warmup-seconds} have passed, so that the JIT has compiled the decoding loop) precedes the timed
 * ones ({@code --repeats}, median); the time counted is the whole {@code generate} call (the prompt's prefill
 * included).
 */
public final class GenerationBenchmark {
    private GenerationBenchmark() {
    }

    /** The model shapes of docs/performance.md's generation benchmark. */
    static MtpModelConfig.Builder shape(String name) {
        return switch (name) {
            // conf/shakespeare-char.yaml's model keys (V = 65 characters): 3 trunk blocks + 4 parallel head blocks.
            case "shakespeare-char" -> MtpModelConfig.builder().vocabSize(65).contextLength(64).modelWidth(128)
                    .attentionHeads(4).trunkDepth(3).mlpWidth(512).predictedTokens(4);
            // 6 blocks on the generation path (5 trunk + head 1), width 384, 6 attention heads, MLP 1536, T = 256,
            // V = 65, n = 4 not parameter-matched (nanoGPT's GPU shakespeare-char shape as an MTP model).
            case "large" -> MtpModelConfig.builder().vocabSize(65).contextLength(256).modelWidth(384)
                    .attentionHeads(6).trunkDepth(5).mlpWidth(1536).predictedTokens(4);
            default -> throw new IllegalArgumentException("unknown shape '" + name + "' (shakespeare-char, large)");
        };
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> a = parse(args);
        Path modelFile = Path.of(required(a, "model"));
        int newTokens = Integer.parseInt(a.getOrDefault("new-tokens", "500"));
        int warmupTokens = Integer.parseInt(a.getOrDefault("warmup-tokens", String.valueOf(newTokens)));
        int repeats = Integer.parseInt(a.getOrDefault("repeats", "1"));
        double warmupSeconds = Double.parseDouble(a.getOrDefault("warmup-seconds", "0"));
        long seed = Long.parseLong(a.getOrDefault("seed", "1337"));
        int[] prompt = Arrays.stream(a.getOrDefault("prompt-ids", "30,27,25,17,27,10").split(","))
                .map(String::trim).filter(s -> !s.isEmpty()).mapToInt(Integer::parseInt).toArray();

        Map<String, Object> out = Bench.resultHeader("generation", "GenerationBenchmark " + String.join(" ", args));
        Map<String, Object> result = Bench.offMainThread(() -> run(a, modelFile, prompt, newTokens, warmupTokens, warmupSeconds, repeats, seed));
        out.putAll(result);
        String json = new ObjectMapper().writeValueAsString(out);
        System.out.println("RESULT " + json);
        if (a.containsKey("out")) {
            Bench.writeJson(Path.of(a.get("out")), out);
        }
    }

    private static Map<String, Object> run(Map<String, String> a, Path modelFile, int[] prompt, int newTokens,
                                           int warmupTokens, double minWarmupSeconds, int repeats, long seed) throws Exception {
        MtpModel model;
        boolean created;
        long t0 = System.nanoTime();
        if (Files.exists(modelFile)) {
            model = MtpModel.load(modelFile.toFile());
            created = false;
        } else {
            MtpModelConfig config = shape(a.getOrDefault("shape", "shakespeare-char"))
                    .headArchitecture(HeadArchitecture.PARALLEL).dropout(0).seed(seed)
                    .initStd(Double.parseDouble(a.getOrDefault("init-std", "0.02"))).build();
            model = MtpModel.create(config);
            Files.createDirectories(modelFile.toAbsolutePath().getParent());
            model.save(modelFile.toFile());
            created = true;
        }
        double loadMs = (System.nanoTime() - t0) / 1e6;
        MtpModelConfig c = model.config();
        if (a.containsKey("weights")) {
            NpzExport.writeParameters(model.graph(), Path.of(a.get("weights")));
        }
        if (a.containsKey("config-json")) {
            Map<String, Object> keys = configKeys(c);
            Files.writeString(Path.of(a.get("config-json")),
                    new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(keys) + "\n");
        }
        for (int id : prompt) {
            if (id < 0 || id >= c.vocabSize()) {
                throw new IllegalArgumentException("prompt id " + id + " is not in [0, " + c.vocabSize() + ")");
            }
        }
        TextSampler sampler = new TextSampler(model);
        System.out.printf("%s %s model (%,d parameters): warm-up generation of %d tokens…%n",
                created ? "created" : "loaded", modelFile, model.parameterCounts().total(), warmupTokens);
        long w0 = System.nanoTime();
        int[] warm;
        int warmupRuns = 0;
        do {
            warm = sampler.generate(prompt, warmupTokens, 0, 0, new Random(seed));
            warmupRuns++;
        } while ((System.nanoTime() - w0) / 1e9 < minWarmupSeconds);
        double warmupSeconds = (System.nanoTime() - w0) / 1e9;

        double[] seconds = new double[repeats];
        int[] ids = null;
        for (int r = 0; r < repeats; r++) {
            long g0 = System.nanoTime();
            int[] got = sampler.generate(prompt, newTokens, 0, 0, new Random(seed));
            seconds[r] = (System.nanoTime() - g0) / 1e9;
            if (ids != null && !Arrays.equals(ids, got)) {
                throw new IllegalStateException("greedy generation is not deterministic: repeat " + r + " differs");
            }
            ids = got;
        }
        int common = Math.min(warm.length, ids.length);
        if (!Arrays.equals(Arrays.copyOf(warm, common), Arrays.copyOf(ids, common))) {
            throw new IllegalStateException("the warm-up and the timed generation differ");
        }
        double[] sorted = seconds.clone();
        Arrays.sort(sorted);
        double median = Bench.quantile(sorted, 0.5);
        double tokensPerSecond = newTokens / median;
        System.out.printf("%d new tokens in %.3f s (median of %d) = %.1f tokens/s (%s; warm-up %d × %d tokens, %.1f s)%n",
                newTokens, median, repeats, tokensPerSecond, sampler(), warmupRuns, warmupTokens, warmupSeconds);

        Map<String, Object> r = new LinkedHashMap<>();
        r.put("label", a.getOrDefault("label", ""));
        r.put("sampler", sampler());
        r.put("model", modelFile.toAbsolutePath().toString());
        r.put("modelCreated", created);
        r.put("modelLoadOrCreateMs", Bench.round(loadMs, 1));
        r.put("config", configKeys(c));
        r.put("parameters", model.parameterCounts().total());
        r.put("promptIds", prompt);
        r.put("newTokens", newTokens);
        r.put("warmupTokens", warmupTokens);
        r.put("warmupGenerations", warmupRuns);
        r.put("warmupSeconds", Bench.round(warmupSeconds, 4));
        r.put("timedSeconds", Arrays.stream(seconds).map(s -> Bench.round(s, 5)).toArray());
        r.put("medianSeconds", Bench.round(median, 5));
        r.put("tokensPerSecond", Bench.round(tokensPerSecond, 2));
        r.put("timing", "the whole TextSampler.generate call (greedy, temperature 0), prompt prefill included; "
                + "median over the timed repeats after untimed warm-up generations; on a non-main thread");
        r.put("threads", Map.of("OMP_NUM_THREADS", String.valueOf(System.getenv("OMP_NUM_THREADS")),
                "OPENBLAS_NUM_THREADS", String.valueOf(System.getenv("OPENBLAS_NUM_THREADS"))));
        r.put("ids", ids);
        return r;
    }

    /** Which sampler this class was compiled against: the KV-cached decoder, or the full recomputation before it. */
    private static String sampler() {
        try {
            Class.forName("dev.mtpspark.core.model.Decoder");
            return "kv-cache (Decoder: prefill once, then one position per token, head 1 only)";
        } catch (ClassNotFoundException e) {
            return "full recomputation (MtpModel.logits over the last T tokens, every head, per token)";
        }
    }

    /** MtpModelConfig's keys as generate_reference.py reads them. */
    private static Map<String, Object> configKeys(MtpModelConfig c) {
        Map<String, Object> keys = new LinkedHashMap<>();
        keys.put("vocabSize", c.vocabSize());
        keys.put("contextLength", c.contextLength());
        keys.put("modelWidth", c.modelWidth());
        keys.put("attentionHeads", c.attentionHeads());
        keys.put("trunkDepth", c.trunkDepth());
        keys.put("mlpWidth", c.mlpWidth());
        keys.put("predictedTokens", c.predictedTokens());
        keys.put("headArchitecture", c.headArchitecture().name());
        keys.put("lossWeights", c.lossWeights());
        keys.put("normType", c.normType().name());
        keys.put("positionalEncoding", c.positionalEncoding().name());
        keys.put("normEpsilon", c.normEpsilon());
        keys.put("initStd", c.initStd());
        keys.put("seed", c.seed());
        return keys;
    }

    private static Map<String, String> parse(String[] args) {
        Map<String, String> m = new LinkedHashMap<>();
        List<String> list = Arrays.asList(args);
        for (int i = 0; i < list.size(); i++) {
            String k = list.get(i);
            if (!k.startsWith("--") || i + 1 >= list.size()) {
                throw new IllegalArgumentException("expected --key value pairs, got '" + k + "'; see the class comment");
            }
            m.put(k.substring(2), list.get(++i));
        }
        return m;
    }

    private static String required(Map<String, String> a, String key) {
        String v = a.get(key);
        if (v == null) {
            throw new IllegalArgumentException("--" + key + " is required");
        }
        return v;
    }
}

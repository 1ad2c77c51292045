package dev.mtpspark.spark.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mtpspark.core.data.Tokenizer;
import dev.mtpspark.core.data.TokenizerFiles;
import dev.mtpspark.core.generate.SpeculativeSampler;
import dev.mtpspark.core.generate.TextSampler;
import dev.mtpspark.spark.CommandRunner;
import dev.mtpspark.spark.tokenize.BadInputException;
import org.apache.hadoop.conf.Configuration;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Callable;

/**
 * {@code generate}: sample text from a checkpoint through head 1, decoded with the dataset's tokenizer; with
 * {@code --speculative}, the extra heads draft and head 1 verifies (the same text greedily, the same distribution
 * when sampling).
 */
@Command(name = "generate", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Sample text from a checkpoint (head 1, the ordinary next-token path), optionally with self-speculative "
                + "decoding by the extra heads. Stops at the end-of-text token. Runs on the driver; no Spark job.")
public final class GenerateCommand implements Callable<Integer> {
    @Option(names = "--checkpoint", required = true, description = "A checkpoint directory, or a run directory (its newest good checkpoint).")
    String checkpoint;

    @Option(names = "--prompt", defaultValue = "", description = "Text to continue (default: start of a document).")
    String prompt;

    @Option(names = "--max-tokens", defaultValue = "300", description = "Tokens to generate (default: ${DEFAULT-VALUE}).")
    int maxTokens;

    @Option(names = "--temperature", defaultValue = "0.8", description = "Softmax temperature; 0 = greedy (default: ${DEFAULT-VALUE}).")
    double temperature;

    @Option(names = "--greedy", description = "Greedy decoding (same as --temperature 0).")
    boolean greedy;

    @Option(names = "--top-k", defaultValue = "40", description = "Sample among the k most likely tokens; 0 = all (default: ${DEFAULT-VALUE}).")
    int topK;

    @Option(names = "--count", defaultValue = "1", description = "Number of samples (default: ${DEFAULT-VALUE}).")
    int count;

    @Option(names = "--seed", defaultValue = "1337", description = "Sampling seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--speculative", description = "Self-speculative decoding: heads 2..k draft, head 1 verifies in one pass.")
    boolean speculative;

    @Option(names = "--draft-heads", defaultValue = "0", description = "k, the heads used with --speculative (2..n; 0 = all n).")
    int draftHeads;

    /** One continuation: its text (without the prompt and the end-of-text token) and how it was decoded. */
    public record Sample(String text, int tokens, long nanos, SpeculativeSampler.Stats speculative) {
        /** Tokens per second, tokens per forward pass and each drafting head's acceptance, on one line. */
        public String statistics() {
            StringBuilder b = new StringBuilder(String.format("%d tokens, %.1f tokens/s", tokens, tokens * 1e9 / Math.max(1, nanos)));
            if (speculative != null) {
                b.append(String.format(", %d forward passes, %.2f tokens per forward; acceptance", speculative.forwards(),
                        speculative.tokensPerForward()));
                for (int j = 2; j < speculative.proposed().length; j++) {
                    b.append(String.format(" head %d %.3f (%d of %d)", j, speculative.acceptance(j), speculative.accepted()[j],
                            speculative.proposed()[j]));
                }
            }
            return b.toString();
        }
    }

    @Override
    public Integer call() throws Exception {
        if (!speculative && draftHeads != 0) {
            throw new BadInputException("--draft-heads = " + draftHeads + " needs --speculative");
        }
        CheckpointStore.Loaded c = CheckpointStore.resolve(checkpoint, new Configuration());
        List<Sample> samples = generate(c, prompt, maxTokens, greedy ? 0 : temperature, topK, count, seed,
                speculative ? Math.max(draftHeads, 0) : -1);
        for (int i = 0; i < samples.size(); i++) {
            System.out.println("--- sample " + (i + 1) + " (" + c.path() + ") ---");
            System.out.println(prompt + samples.get(i).text());
            System.out.println("--- " + samples.get(i).statistics());
        }
        return 0;
    }

    /** The checkpoint's tokenizer, as recorded in the dataset manifest saved with it. */
    public static Tokenizer tokenizer(CheckpointStore.Loaded c) throws IOException {
        JsonNode t = new ObjectMapper().readTree(c.manifestJson()).path("tokenizer");
        return TokenizerFiles.fromJson(t.path("type").asText(), c.tokenizerJson(),
                t.hasNonNull("eosToken") ? t.get("eosToken").asText() : null);
    }

    /** {@code count} continuations of {@code prompt} (decoded text, without the prompt), plain decoding. */
    public static List<String> generate(CheckpointStore.Loaded c, String prompt, int maxTokens, double temperature,
                                        int topK, int count, long seed) throws IOException {
        return generate(c, prompt, maxTokens, temperature, topK, count, seed, -1).stream().map(Sample::text).toList();
    }

    /**
     * {@code count} continuations of {@code prompt}: plain decoding with {@code draftHeads} −1, else speculative with
     * heads 2..{@code draftHeads} drafting (0: all n). Each stops at the tokenizer's end-of-text id.
     */
    public static List<Sample> generate(CheckpointStore.Loaded c, String prompt, int maxTokens, double temperature,
                                        int topK, int count, long seed, int draftHeads) throws IOException {
        if (maxTokens < 1) {
            throw new BadInputException("--max-tokens = " + maxTokens + " is invalid: must be ≥ 1");
        }
        if (!(temperature >= 0) || topK < 0 || count < 1) {
            throw new BadInputException("--temperature must be ≥ 0, --top-k ≥ 0 and --count ≥ 1; got " + temperature + ", " + topK + ", " + count);
        }
        Tokenizer tokenizer = tokenizer(c);
        int[] ids = tokenizer.encode(prompt);
        int eos = tokenizer.eosId();
        int[] context;
        if (eos >= 0) {                               // documents start after an end-of-text separator in training
            context = new int[ids.length + 1];
            context[0] = eos;
            System.arraycopy(ids, 0, context, 1, ids.length);
        } else {
            context = ids.length > 0 ? ids : tokenizer.encode("\n");
        }
        if (context.length == 0) {
            throw new BadInputException("--prompt is empty and the tokenizer has neither an end-of-text token nor a newline; give a prompt");
        }
        int n = c.model().config().predictedTokens();
        SpeculativeSampler speculative = null;
        if (draftHeads >= 0) {
            if (n < 2) {
                throw new BadInputException("--speculative needs a model with n ≥ 2 heads; " + c.path() + " has n = 1");
            }
            int k = draftHeads == 0 ? n : draftHeads;
            if (k < 2 || k > n) {
                throw new BadInputException("--draft-heads = " + draftHeads + " is invalid for " + c.path()
                        + ": must be in 2.." + n + " (n = " + n + "), or 0 for all");
            }
            speculative = new SpeculativeSampler(c.model(), k);
        }
        TextSampler plain = new TextSampler(c.model());
        Random random = new Random(seed);
        List<Sample> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            long start = System.nanoTime();
            int[] generated;
            SpeculativeSampler.Stats stats = null;
            if (speculative != null) {
                SpeculativeSampler.Result r = speculative.generate(context, maxTokens, temperature, topK, random, eos);
                generated = r.tokens();
                stats = r.stats();
            } else {
                generated = plain.generate(context, maxTokens, temperature, topK, random, eos);
            }
            long nanos = System.nanoTime() - start;
            int shown = generated.length > 0 && generated[generated.length - 1] == eos ? generated.length - 1 : generated.length;
            out.add(new Sample(tokenizer.decode(java.util.Arrays.copyOf(generated, shown)), generated.length, nanos, stats));
        }
        return out;
    }

    public static void main(String[] args) {
        System.exit(CommandRunner.execute(new GenerateCommand(), args));
    }
}

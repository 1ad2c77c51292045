package dev.mtpspark.spark.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mtpspark.core.data.Tokenizer;
import dev.mtpspark.core.data.TokenizerFiles;
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

/** {@code generate}: sample text from a checkpoint through head 1, decoded with the dataset's tokenizer. */
@Command(name = "generate", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Sample text from a checkpoint (head 1, the ordinary next-token path). Runs on the driver; no Spark job.")
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

    @Override
    public Integer call() throws Exception {
        CheckpointStore.Loaded c = CheckpointStore.resolve(checkpoint, new Configuration());
        List<String> samples = generate(c, prompt, maxTokens, greedy ? 0 : temperature, topK, count, seed);
        for (int i = 0; i < samples.size(); i++) {
            System.out.println("--- sample " + (i + 1) + " (" + c.path() + ") ---");
            System.out.println(prompt + samples.get(i));
        }
        return 0;
    }

    /** The checkpoint's tokenizer, as recorded in the dataset manifest saved with it. */
    public static Tokenizer tokenizer(CheckpointStore.Loaded c) throws IOException {
        JsonNode t = new ObjectMapper().readTree(c.manifestJson()).path("tokenizer");
        return TokenizerFiles.fromJson(t.path("type").asText(), c.tokenizerJson(),
                t.hasNonNull("eosToken") ? t.get("eosToken").asText() : null);
    }

    /** {@code count} continuations of {@code prompt} (decoded text, without the prompt). */
    public static List<String> generate(CheckpointStore.Loaded c, String prompt, int maxTokens, double temperature,
                                        int topK, int count, long seed) throws IOException {
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
        TextSampler sampler = new TextSampler(c.model());
        Random random = new Random(seed);
        List<String> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            out.add(tokenizer.decode(sampler.generate(context, maxTokens, temperature, topK, random)));
        }
        return out;
    }

    public static void main(String[] args) {
        System.exit(CommandRunner.execute(new GenerateCommand(), args));
    }
}

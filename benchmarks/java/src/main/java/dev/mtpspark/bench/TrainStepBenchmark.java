package dev.mtpspark.bench;

import dev.mtpspark.core.config.HeadArchitecture;
import dev.mtpspark.core.config.MtpModelConfig;
import dev.mtpspark.core.model.MtpBatches;
import dev.mtpspark.core.model.MtpModel;
import dev.mtpspark.core.model.ParameterCounts;
import dev.mtpspark.core.train.OptimizerSettings;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.dataset.api.MultiDataSet;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Local training-step time (plain {@code MtpModel.fit}, no Spark) of n = 1 against n = 4, parameter-matched
 * and not, plus n = 1 and matched n = 4 with one thread per step. The
 * configurations run interleaved (A B C A B C …) so that drift of the machine (other load,
 * frequency, GC) hits all of them alike; the first {@code warmup} steps of each are discarded. Batches are
 * built from random token windows (fixed seed) outside the timed region: only {@code fit} is timed.
 *
 * <p>Shapes: {@code small} is nanoGPT's shakespeare-char CPU recipe (vocab 65, T 64, batch 12, width 128,
 * 4 attention heads, MLP 512, 4 blocks for n = 1); {@code large} is 6 blocks for n = 1, width 384, 6 attention
 * heads, MLP 1536, T 256, batch 4 (nanoGPT's GPU shakespeare-char shape, with a smaller batch to stay
 * affordable on a CPU).
 *
 * <p>"Parameter-matched" follows the paper: n = 4 removes n − 1 = 3 trunk blocks, so it has as many blocks
 * as the n = 1 model (trunk + heads).
 *
 * <p>Usage: {@code TrainStepBenchmark <results.json> [steps=30] [warmup=5] [largeSteps=0] [largeWarmup=2]}
 */
public final class TrainStepBenchmark {
    private static final long SEED = 1337;

    private TrainStepBenchmark() {
    }

    record Shape(String name, int vocab, int context, int batch, int width, int heads, int mlp, int blocks) {
    }

    /** {@code threads}: the model's {@code stepThreads} (0 = every core). */
    record Variant(String name, int trunk, int n, int threads) {
    }

    public static void main(String[] args) throws Exception {
        Path results = Path.of(args[0]);
        int steps = args.length > 1 ? Integer.parseInt(args[1]) : 30;
        int warmup = args.length > 2 ? Integer.parseInt(args[2]) : 5;
        int largeSteps = args.length > 3 ? Integer.parseInt(args[3]) : 0;
        int largeWarmup = args.length > 4 ? Integer.parseInt(args[4]) : 2;

        Map<String, Object> out = Bench.resultHeader("train-step", "benchmarks/train-step.sh " + String.join(" ", Arrays.copyOfRange(args, 1, args.length)));
        out.put("method", "plain MtpModel.fit on one JVM, no Spark, timed on a non-main thread; configurations interleaved per step; only fit() timed; "
                + "random token windows (seed " + SEED + "); first warm-up steps of each configuration discarded; "
                + "tokens/s = batch x T / median step time; parameter-matched n=4 removes n-1 trunk blocks (paper)");

        Map<String, Object> shapes = new LinkedHashMap<>();
        shapes.put("small", Bench.offMainThread(() -> run(new Shape("small (nanoGPT shakespeare-char CPU recipe)", 65, 64, 12, 128, 4, 512, 4), steps, warmup)));
        if (largeSteps > 0) {
            shapes.put("large", Bench.offMainThread(() -> run(new Shape("large (6 blocks, width 384, T 256, batch 4)", 65, 256, 4, 384, 6,
                    1536, 6), largeSteps, largeWarmup)));
        }
        out.put("shapes", shapes);
        Bench.writeJson(results, out);
        System.out.println("results written to " + results);
    }

    private static Map<String, Object> run(Shape s, int steps, int warmup) {
        List<Variant> variants = List.of(
                new Variant("n1", s.blocks() - 1, 1, 0),
                new Variant("n4-unmatched", s.blocks() - 1, 4, 0),
                new Variant("n4-matched", s.blocks() - 4, 4, 0),
                // One thread per step (one shard): what the other threads add.
                new Variant("n1-one-thread", s.blocks() - 1, 1, 1),
                new Variant("n4-matched-one-thread", s.blocks() - 4, 4, 1));
        List<MtpModel> models = new ArrayList<>();
        List<Random> rngs = new ArrayList<>();
        for (Variant v : variants) {
            MtpModelConfig c = MtpModelConfig.builder().vocabSize(s.vocab()).contextLength(s.context()).modelWidth(s.width())
                    .attentionHeads(s.heads()).trunkDepth(v.trunk()).mlpWidth(s.mlp()).predictedTokens(v.n())
                    .headArchitecture(HeadArchitecture.PARALLEL).stepThreads(v.threads()).dropout(0).seed(SEED).build();
            models.add(MtpModel.create(c, OptimizerSettings.nanoGptRecipe(2000), DataType.FLOAT));
            rngs.add(new Random(SEED));
        }
        System.out.printf("%n%s: %d warm-up + %d measured steps per configuration, interleaved%n", s.name(), warmup, steps);
        double[][] ms = new double[variants.size()][steps];
        for (int step = 0; step < warmup + steps; step++) {
            for (int i = 0; i < variants.size(); i++) {
                MtpModel m = models.get(i);
                MultiDataSet batch = randomBatch(rngs.get(i), s.batch(), m.config());
                long t0 = System.nanoTime();
                m.fit(batch);
                double elapsed = (System.nanoTime() - t0) / 1e6;
                if (step >= warmup) {
                    ms[i][step - warmup] = elapsed;
                }
            }
            if ((step + 1) % 10 == 0) {
                System.out.printf("  %d/%d steps%n", step + 1, warmup + steps);
            }
        }

        long tokensPerStep = (long) s.batch() * s.context();
        Map<String, Object> res = new LinkedHashMap<>();
        res.put("shape", Map.of("vocab", s.vocab(), "contextLength", s.context(), "batch", s.batch(), "modelWidth", s.width(),
                "attentionHeads", s.heads(), "mlpWidth", s.mlp(), "blocksOfN1Model", s.blocks()));
        res.put("warmupSteps", warmup);
        res.put("measuredSteps", steps);
        res.put("tokensPerStep", tokensPerStep);
        Map<String, Object> configs = new LinkedHashMap<>();
        double[] medians = new double[variants.size()];
        System.out.printf("| configuration | trunk + heads | parameters | median ms/step | IQR ms | min–max ms | tokens/s |%n");
        System.out.printf("| --- | --- | --- | --- | --- | --- | --- |%n");
        for (int i = 0; i < variants.size(); i++) {
            Variant v = variants.get(i);
            double[] sorted = ms[i].clone();
            Arrays.sort(sorted);
            medians[i] = Bench.quantile(sorted, 0.5);
            ParameterCounts p = models.get(i).parameterCounts();
            Map<String, Object> c = new LinkedHashMap<>();
            c.put("trunkDepth", v.trunk());
            c.put("heads", v.n());
            c.put("stepThreads", v.threads() == 0 ? "auto (" + Runtime.getRuntime().availableProcessors() + " cores)" : v.threads());
            c.put("blocks", v.trunk() + v.n());
            c.put("parameters", p.total());
            c.put("parameterCounts", Map.of("embedding", p.embedding(), "trunk", p.trunk(), "heads", p.heads(), "unembedding", p.unembedding()));
            c.put("medianMsPerStep", Bench.round(medians[i], 1));
            c.put("p25Ms", Bench.round(Bench.quantile(sorted, 0.25), 1));
            c.put("p75Ms", Bench.round(Bench.quantile(sorted, 0.75), 1));
            c.put("minMs", Bench.round(sorted[0], 1));
            c.put("maxMs", Bench.round(sorted[sorted.length - 1], 1));
            c.put("tokensPerSecond", Bench.round(tokensPerStep / (medians[i] / 1000), 0));
            c.put("stepMs", Arrays.stream(ms[i]).map(x -> Bench.round(x, 1)).toArray());
            configs.put(v.name(), c);
            System.out.printf("| %s | %d + %d | %,d | %.1f | %.1f–%.1f | %.1f–%.1f | %,.0f |%n", v.name(), v.trunk(), v.n(), p.total(),
                    medians[i], Bench.quantile(sorted, 0.25), Bench.quantile(sorted, 0.75), sorted[0], sorted[sorted.length - 1],
                    tokensPerStep / (medians[i] / 1000));
        }
        res.put("configurations", configs);
        Map<String, Object> ratios = new LinkedHashMap<>();
        ratios.put("n4UnmatchedOverN1", Bench.round(medians[1] / medians[0], 3));
        ratios.put("n4MatchedOverN1", Bench.round(medians[2] / medians[0], 3));
        ratios.put("allCoresOverOneThread-n1", Bench.round(medians[0] / medians[3], 3));
        ratios.put("allCoresOverOneThread-n4Matched", Bench.round(medians[2] / medians[4], 3));
        res.put("stepTimeRatios", ratios);
        System.out.printf("step-time ratio n4/n1: unmatched %.3f, parameter-matched %.3f%n", medians[1] / medians[0], medians[2] / medians[0]);
        System.out.printf("all cores / one thread: n1 %.3f, n4 matched %.3f%n", medians[0] / medians[3], medians[2] / medians[4]);
        return res;
    }

    static MultiDataSet randomBatch(Random r, int batch, MtpModelConfig c) {
        int[][] windows = new int[batch][c.windowLength()];
        for (int[] w : windows) {
            for (int i = 0; i < w.length; i++) {
                w[i] = r.nextInt(c.vocabSize());
            }
        }
        return MtpBatches.fromWindows(windows, c, DataType.FLOAT);
    }
}

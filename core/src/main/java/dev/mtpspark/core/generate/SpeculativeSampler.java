package dev.mtpspark.core.generate;

import dev.mtpspark.core.model.Decoder;
import dev.mtpspark.core.model.MtpModel;

import java.util.Arrays;
import java.util.Random;

/**
 * Self-speculative decoding with the model's own extra heads (Gloeckle et al. 2024 §3.2; Stern et al. 2018 in its
 * merged form): at the last accepted position head 1 gives the next token g and heads 2..k draft the k − 1 after it;
 * one pass appends {@code [g, drafts]} and yields head 1 at each of those positions, which verifies the drafts and
 * gives the next round's g; rejected rows are truncated from the caches.
 *
 * <p>Greedy (temperature 0): a draft is accepted iff it equals head 1's argmax, so the output is plain greedy
 * decoding's, token for token (on the CPU bitwise: {@link Decoder} passes are row-independent). Sampling: drafts are
 * sampled from head j's warped distribution q and accepted with probability min(1, p/q), p head 1's; on rejection
 * the token is drawn from norm(max(0, p − q)) (Leviathan et al. 2023), so every token has exactly plain sampling's
 * distribution. The context policy is {@link TextSampler}'s (the newest T/2 tokens re-prefilled when the cache is
 * full; blocks are clipped to fit), so greedy outputs agree across the re-prefills too. Not thread-safe: an
 * instance reuses one decoder.
 */
public final class SpeculativeSampler {
    /** A test hook: replaces the drafts of a round (greedy only). */
    @FunctionalInterface
    public interface DraftOverride {
        /** {@code history[0..length)} is everything so far, the next token g last; returns the drafts to verify. */
        int[] replace(int[] history, int length, int[] drafts);
    }

    /**
     * What a generation did: {@code forwards} passes through the trunk (the prefill and every re-prefill
     * included); {@code proposed[j]} and {@code accepted[j]} count head j's drafts that were checked (every
     * earlier draft of the round accepted) and accepted; {@code expectedAccepted[j]} sums each check's acceptance
     * probability (Σ min(p, q) when sampling, 0 or 1 when greedy).
     */
    public record Stats(int tokens, int forwards, long[] proposed, long[] accepted, double[] expectedAccepted, long nanos) {
        public double tokensPerForward() {
            return forwards == 0 ? 0 : (double) tokens / forwards;
        }

        /** The rate at which head j's checked drafts were accepted (NaN if none was checked). */
        public double acceptance(int head) {
            return proposed[head] == 0 ? Double.NaN : (double) accepted[head] / proposed[head];
        }

        public double tokensPerSecond() {
            return nanos == 0 ? 0 : tokens * 1e9 / nanos;
        }
    }

    /** The generated ids (ending with the stop id if it was produced) and the statistics of the run. */
    public record Result(int[] tokens, Stats stats) {
    }

    private final MtpModel model;
    private final int draftHeads;
    private DraftOverride override;
    private Decoder decoder;                 // reused across generations (it reads the weights in place)

    /** Drafts with heads 2..{@code draftHeads} ({@code draftHeads} in 2..n; k in the paper's tables). */
    public SpeculativeSampler(MtpModel model, int draftHeads) {
        int n = model.config().predictedTokens();
        if (draftHeads < 2 || draftHeads > n) {
            throw new IllegalArgumentException("draft heads (k) must be in [2, " + n + "] for a model with n = " + n
                    + " heads, got " + draftHeads);
        }
        this.model = model;
        this.draftHeads = draftHeads;
    }

    /** Replaces every round's drafts (tests: random drafts must not change the output; oracle drafts all pass). */
    public SpeculativeSampler withDraftOverride(DraftOverride override) {
        this.override = override;
        return this;
    }

    /**
     * Up to {@code maxNewTokens} ids after {@code prompt}, stopping after {@code stopId} (−1: none); arguments as
     * {@link TextSampler#generate(int[], int, double, int, Random, int)}.
     */
    public Result generate(int[] prompt, int maxNewTokens, double temperature, int topK, Random random, int stopId) {
        TextSampler.checkArguments(prompt, maxNewTokens, temperature, topK);
        if (override != null && temperature > 0) {
            throw new IllegalStateException("a draft override is for greedy decoding only");
        }
        long start = System.nanoTime();
        if (decoder == null) {
            decoder = model.decoder(draftHeads);
        }
        Round r = new Round(decoder, prompt, maxNewTokens, temperature, topK, random, stopId);
        r.run();
        return new Result(Arrays.copyOfRange(r.history, prompt.length, r.length),
                new Stats(r.length - prompt.length, r.forwards, r.proposed, r.accepted, r.expected, System.nanoTime() - start));
    }

    /** One generation's state. */
    private final class Round {
        final Decoder decoder;
        final int[] history;
        final int end;
        final double temperature;
        final int topK;
        final Random random;
        final int stopId;
        final long[] proposed = new long[draftHeads + 1];
        final long[] accepted = new long[draftHeads + 1];
        final double[] expected = new double[draftHeads + 1];
        final double[][] proposals = new double[draftHeads + 1][];
        int length;
        int forwards;
        boolean done;

        Round(Decoder decoder, int[] prompt, int maxNewTokens, double temperature, int topK, Random random, int stopId) {
            this.decoder = decoder;
            this.history = Arrays.copyOf(prompt, prompt.length + maxNewTokens);
            this.length = prompt.length;
            this.end = prompt.length + maxNewTokens;
            this.temperature = temperature;
            this.topK = topK;
            this.random = random;
            this.stopId = stopId;
        }

        void run() {
            if (end == length) {
                return;
            }
            int t = decoder.capacity();
            emit(pick(prefill(Arrays.copyOfRange(history, Math.max(0, length - t), length))));
            while (!done) {
                if (decoder.length() == t) {
                    emit(pick(prefill(Arrays.copyOfRange(history, length - TextSampler.reprefillLength(t), length))));
                    continue;
                }
                int g = history[length - 1];
                int k = Math.min(draftHeads, Math.min(t - decoder.length(), end - length));
                if (k < 2) {
                    forwards++;
                    emit(pick(decoder.append(g)));
                    continue;
                }
                int[] drafts = decoder.draft(g, k, this::draft);
                if (override != null) {
                    drafts = override.replace(history, length, drafts.clone());
                }
                verify(g, drafts);
            }
        }

        private float[] prefill(int[] tokens) {
            forwards++;
            return decoder.prefill(tokens);
        }

        /** One pass over g and the drafts; emits the accepted drafts and the token after them. */
        private void verify(int g, int[] drafts) {
            int cached = decoder.length();
            int[] block = new int[drafts.length + 1];
            block[0] = g;
            System.arraycopy(drafts, 0, block, 1, drafts.length);
            forwards++;
            float[][] rows = decoder.appendAll(block);
            int kept = 1;                                    // g itself
            for (int r = 0; r < rows.length; r++) {
                if (r == drafts.length) {
                    decoder.truncate(cached + kept);
                    emit(pick(rows[r]));                     // every draft accepted: the bonus token
                    return;
                }
                int head = r + 2;
                int draft = drafts[r];
                proposed[head]++;
                int next;
                if (temperature == 0) {
                    next = Warp.argmax(rows[r]);
                    expected[head] += next == draft ? 1 : 0;
                } else {
                    next = acceptOrResample(Warp.distribution(rows[r], temperature, topK), proposals[head], draft, head);
                }
                if (next != draft) {
                    decoder.truncate(cached + kept);
                    emit(next);
                    return;
                }
                accepted[head]++;
                kept++;
                emit(draft);
                if (done) {
                    return;
                }
            }
        }

        /** Accepts {@code draft} with probability min(1, p/q); else a token from norm(max(0, p − q)). */
        private int acceptOrResample(double[] p, double[] q, int draft, int head) {
            double overlap = 0;
            for (int i = 0; i < p.length; i++) {
                overlap += Math.min(p[i], q[i]);
            }
            expected[head] += overlap;
            if (random.nextDouble() * q[draft] < p[draft]) {
                return draft;
            }
            double[] residual = new double[p.length];
            double sum = 0;
            for (int i = 0; i < p.length; i++) {
                residual[i] = Math.max(0, p[i] - q[i]);
                sum += residual[i];
            }
            return Warp.sample(sum > 0 ? residual : p, random);
        }

        private int draft(int head, float[] logits) {
            if (temperature == 0) {
                return Warp.argmax(logits);
            }
            proposals[head] = Warp.distribution(logits, temperature, topK);
            return Warp.sample(proposals[head], random);
        }

        private int pick(float[] logits) {
            return Warp.pick(logits, temperature, topK, random);
        }

        private void emit(int token) {
            history[length++] = token;
            done = length == end || token == stopId;
        }
    }
}

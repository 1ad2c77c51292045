package dev.mtpspark.core.model;

import dev.mtpspark.core.kernels.DenseMatrix;
import dev.mtpspark.core.kernels.Kernels;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * Incremental inference over one sequence with a {@link KvCache}: {@link #prefill} a prompt, {@link #append} one
 * or more tokens in one pass (each new position attends to the cached ones), {@link #truncate} back to a shorter
 * length, and {@link #draft} the extra heads' guesses at the last position. Appends compute head 1 only (and only
 * the positions asked for); on the CPU a pass over k positions gives bitwise the logits of k one-position passes
 * ({@link Kernels#forDecoding}), so verifying drafts cannot change what greedy decoding outputs.
 *
 * <p>The drafting heads' blocks catch up lazily: {@link #draft} runs each over the positions it has not seen (a
 * parallel head only their keys and values, but the last). A sequential depth k's row t reads the token x[t+k−1],
 * so its rows that depend on tokens not yet appended (the next token and earlier drafts) are computed for the draft
 * and forgotten after it.
 *
 * <p>Positions run from 0 to the context length T − 1; the caller decides what to keep when the context is full
 * (see {@code TextSampler}). Not thread-safe.
 */
public final class Decoder {
    /** Chooses head {@code head}'s draft token from its logits {@code [V]} (greedy: the argmax; or a sample). */
    @FunctionalInterface
    public interface DraftChooser {
        int choose(int head, float[] logits);
    }

    /** Passes of more rows than this use the bulk kernels (faster; the drafts' exact bits do not matter). */
    private static final int ROW_BY_ROW_LIMIT = 16;

    private final NetworkShape shape;
    private final DataType type;
    private final Weights.Model weights;
    private final Engine exact;
    private final Engine bulk;
    private final KvCache cache;
    private final int heads;
    private final int d;
    private final int[] tokens;                // the appended tokens, by position
    private final DenseMatrix trunkOut;        // [T, d]: the trunk output z at every cached position
    private final DenseMatrix[] depthOut;      // sequential: [T, d] h_k per position for depth k ≥ 2 (index k − 1)
    private final Rows[] buffers;              // by power-of-two capacity

    private record Engine(Kernels kernels, TransformerBlock block) {
    }

    /** Buffers for a pass of up to {@code capacity} new positions. */
    private record Rows(TransformerBlock.Activations activations, DenseMatrix embedded, DenseMatrix input,
                        DenseMatrix hidden, DenseMatrix hat, DenseMatrix rstd, DenseMatrix normed,
                        DenseMatrix combined, DenseMatrix projected, DenseMatrix logits) {
    }

    Decoder(NetworkShape shape, DataType type, Weights.Model weights, int heads) {
        if (heads < 1 || heads > shape.horizons()) {
            throw new IllegalArgumentException("heads must be in [1, " + shape.horizons() + "], got " + heads);
        }
        this.shape = shape;
        this.type = type;
        this.weights = weights;
        this.heads = heads;
        this.d = shape.width();
        Kernels decoding = Kernels.forDecoding(type, shape.context(), shape.headWidth());
        Kernels whole = Kernels.forBackend(type, shape.context(), shape.headWidth());
        this.exact = new Engine(decoding, new TransformerBlock(shape, decoding));
        this.bulk = new Engine(whole, new TransformerBlock(shape, whole));
        this.cache = new KvCache(shape, type, heads);
        this.tokens = new int[shape.context()];
        long td = (long) shape.context() * d;
        this.trunkOut = DenseMatrix.allocate(type, td);
        this.depthOut = new DenseMatrix[heads];
        if (shape.sequential()) {
            for (int k = 2; k <= heads; k++) {
                depthOut[k - 1] = DenseMatrix.allocate(type, td);
            }
        }
        this.buffers = new Rows[32 - Integer.numberOfLeadingZeros(Math.max(1, shape.context() - 1)) + 1];
    }

    /** The most positions the cache holds: the context length T. */
    public int capacity() {
        return shape.context();
    }

    /** Positions cached now. */
    public int length() {
        return cache.length();
    }

    /** Heads this decoder can compute: head 1 and the drafting heads 2..heads(). */
    public int heads() {
        return heads;
    }

    /** Empties the cache and runs {@code tokens} at positions 0..; returns head 1's logits at the last one. */
    public float[] prefill(int[] tokens) {
        cache.truncate(0);
        return forward(tokens, true, bulk)[0];
    }

    /** Appends {@code tokens} in one pass; returns head 1's logits {@code [V]} at the last new position. */
    public float[] append(int... tokens) {
        return forward(tokens, true, exact)[0];
    }

    /** Appends {@code tokens} in one pass; returns head 1's logits at every new position, {@code [rows][V]}. */
    public float[][] appendAll(int... tokens) {
        return forward(tokens, false, exact);
    }

    /** Forgets every position from {@code length} on (for example rejected draft tokens). */
    public void truncate(int length) {
        cache.truncate(length);
        if (shape.sequential()) {
            for (int k = 2; k <= heads; k++) {       // depth k's row t read x[t+k−1]
                cache.setHeadLength(k, Math.min(cache.headLength(k), Math.max(0, length - k + 1)));
            }
        }
    }

    /**
     * The drafts of heads 2..{@code k} at the last cached position m: head j's guess at x[m+j], each chosen by
     * {@code chooser} from head j's logits. {@code next} is x[m+1], the token head 1 gave (not yet appended):
     * sequential depths read it and the earlier drafts; parallel and linear heads see only the cached positions.
     */
    public int[] draft(int next, int k, DraftChooser chooser) {
        int length = cache.length();
        if (k < 2 || k > heads) {
            throw new IllegalArgumentException("draft heads must be in [2, " + heads + "], got " + k);
        }
        if (length == 0) {
            throw new IllegalStateException("nothing is cached: prefill before drafting");
        }
        checkToken(next, 0);
        int[] ahead = new int[k];                      // x[m+1], x[m+2], ...: next, then the drafts
        ahead[0] = next;
        int[] drafts = new int[k - 1];
        for (int j = 2; j <= k; j++) {
            float[] logits = switch (shape.architecture()) {
                case PARALLEL -> parallelDraft(j, length);
                case LINEAR -> linearDraft(j, length);
                case SEQUENTIAL -> sequentialDraft(j, length, ahead);
            };
            drafts[j - 2] = chooser.choose(j, logits);
            checkToken(drafts[j - 2], j - 1);
            ahead[j - 1] = drafts[j - 2];
        }
        return drafts;
    }

    private float[][] forward(int[] newTokens, boolean lastOnly, Engine e) {
        int r = newTokens.length;
        int cached = cache.length();
        if (r == 0) {
            throw new IllegalArgumentException("append needs at least one token");
        }
        if (cached + r > shape.context()) {
            throw new IllegalStateException("the cache holds " + cached + " of " + shape.context() + " positions; "
                    + r + " more exceed the context length (prefill a shorter context)");
        }
        int[] positions = new int[r];
        for (int i = 0; i < r; i++) {
            checkToken(newTokens[i], i);
            positions[i] = cached + i;
        }
        Kernels kernels = e.kernels();
        Rows b = rows(r);
        kernels.gatherRows(weights.tokens(), d, newTokens, b.embedded(), 0, d, false);
        if (weights.positions() != null) {
            kernels.gatherRows(weights.positions(), d, positions, b.embedded(), 0, d, true);
        }
        DenseMatrix x = b.embedded();
        for (int i = 0; i < shape.depth(); i++) {
            e.block().forwardCached(weights.trunk()[i], b.activations(), x, r, cache.trunk(i), cached);
            x = b.activations().out;
        }
        kernels.copy(x, 0, d, trunkOut, cached * d, d, r, d);
        System.arraycopy(newTokens, 0, tokens, cached, r);
        DenseMatrix hidden = x;
        int hiddenOff = 0;
        Weights.Head head = weights.heads()[0];
        if (head instanceof Weights.ParallelHead p) {
            kernels.copy(trunkOut, cached * d, d, b.input(), 0, d, r, d);
            e.block().forwardCached(p.block(), b.activations(), b.input(), r, cache.head(1), cached);
            hidden = b.activations().out;
        } else if (head instanceof Weights.LinearHead l) {
            kernels.copy(trunkOut, cached * d, d, b.input(), 0, d, r, d);
            e.block().affine(b.input(), r, d, l.weight(), d, l.bias(), null, b.hidden());
            hidden = b.hidden();
        } else {
            hidden = trunkOut;                           // sequential depth 1: the trunk output
            hiddenOff = cached * d;
        }
        cache.advance(r);
        if (weights.heads()[0] instanceof Weights.ParallelHead) {
            cache.setHeadLength(1, cache.length());
        }
        int out = lastOnly ? 1 : r;
        return logits(e, hidden, hiddenOff + (lastOnly ? (r - 1) * d : 0), out, b);
    }

    /** Head 1..n's shared final norm and unembedding of {@code rows} rows of {@code hidden} from {@code off}. */
    private float[][] logits(Engine e, DenseMatrix hidden, int off, int rows, Rows b) {
        Kernels kernels = e.kernels();
        if (hidden != b.hidden() || off != 0) {
            kernels.copy(hidden, off, d, b.hidden(), 0, d, rows, d);
        }
        Weights.Norm norm = weights.finalNorm();
        kernels.normForward(b.hidden(), rows, d, norm.gain(), norm.bias(), shape.eps(), b.hat(), b.rstd(), b.normed());
        int v = shape.vocab();
        kernels.gemm(false, false, rows, v, d, 1, b.normed(), 0, d, weights.unembedding(), 0, v, 0, b.logits(), 0, v);
        return b.logits().toFloatRows(0, rows, v);
    }

    /**
     * Parallel head j at the last position: the positions it has not seen before that one only add their keys and
     * values to its cache (nothing reads their outputs), then its whole block and logits at the last one.
     */
    private float[] parallelDraft(int j, int length) {
        int from = cache.headLength(j);
        int r = length - from;
        Weights.ParallelHead p = (Weights.ParallelHead) weights.heads()[j - 1];
        if (r > 1) {
            Engine e = engine(r - 1);
            Rows b = rows(r - 1);
            e.kernels().copy(trunkOut, from * d, d, b.input(), 0, d, r - 1, d);
            e.block().cacheKeysValues(p.block(), b.activations(), b.input(), r - 1, cache.head(j), from);
        }
        Rows b = rows(1);
        exact.kernels().copy(trunkOut, (length - 1) * d, d, b.input(), 0, d, 1, d);
        exact.block().forwardCached(p.block(), b.activations(), b.input(), 1, cache.head(j), length - 1);
        cache.setHeadLength(j, length);
        return logits(exact, b.activations().out, 0, 1, b)[0];
    }

    /** Linear head j at the last position: {@code z·W + b}. */
    private float[] linearDraft(int j, int length) {
        Rows b = rows(1);
        Weights.LinearHead l = (Weights.LinearHead) weights.heads()[j - 1];
        exact.kernels().copy(trunkOut, (length - 1) * d, d, b.input(), 0, d, 1, d);
        exact.block().affine(b.input(), 1, d, l.weight(), d, l.bias(), null, b.hidden());
        return logits(exact, b.hidden(), 0, 1, b)[0];
    }

    /**
     * Sequential depth j ≥ 2 over the positions from its cached rows to the last one m: row t is
     * {@code block(M_j [norm(h_{j−1}(t)); norm(emb(x[t+j−1]))])}, with x beyond m taken from {@code ahead}. Rows
     * that read a token not yet appended are forgotten afterwards.
     */
    private float[] sequentialDraft(int j, int length, int[] ahead) {
        int from = cache.headLength(j);
        int r = length - from;
        Engine e = engine(r);
        Kernels kernels = e.kernels();
        Rows b = rows(r);
        Weights.SequentialHead s = (Weights.SequentialHead) weights.heads()[j - 1];
        DenseMatrix previous = j == 2 ? trunkOut : depthOut[j - 2];
        kernels.copy(previous, from * d, d, b.input(), 0, d, r, d);
        kernels.normForward(b.input(), r, d, s.hiddenNorm().gain(), s.hiddenNorm().bias(), shape.eps(), b.hat(), b.rstd(), b.normed());
        kernels.copy(b.normed(), 0, d, b.combined(), 0, 2 * d, r, d);
        int[] look = new int[r];
        for (int i = 0; i < r; i++) {
            int position = from + i + j - 1;
            look[i] = position < length ? tokens[position] : ahead[position - length];
        }
        kernels.gatherRows(weights.tokens(), d, look, b.input(), 0, d, false);
        kernels.normForward(b.input(), r, d, s.embeddingNorm().gain(), s.embeddingNorm().bias(), shape.eps(), b.hat(), b.rstd(), b.normed());
        kernels.copy(b.normed(), 0, d, b.combined(), d, 2 * d, r, d);
        e.block().affine(b.combined(), r, 2 * d, s.projection(), d, null, null, b.projected());
        e.block().forwardCached(s.block(), b.activations(), b.projected(), r, cache.head(j), from);
        kernels.copy(b.activations().out, 0, d, depthOut[j - 1], from * d, d, r, d);
        cache.setHeadLength(j, Math.max(0, length - j + 1));
        return logits(e, depthOut[j - 1], (length - 1) * d, 1, b)[0];
    }

    private Engine engine(int rows) {
        return rows <= ROW_BY_ROW_LIMIT ? exact : bulk;
    }

    private void checkToken(int id, int index) {
        if (id < 0 || id >= shape.vocab()) {
            throw new IllegalArgumentException("token id " + id + " at " + index + " is not in [0, " + shape.vocab() + ")");
        }
    }

    private Rows rows(int rows) {
        int slot = 32 - Integer.numberOfLeadingZeros(Math.max(1, rows - 1));
        if (buffers[slot] == null) {
            int capacity = Math.min(1 << slot, shape.context());
            long rd = (long) capacity * d;
            buffers[slot] = new Rows(new TransformerBlock.Activations(shape, type, capacity), matrix(rd), matrix(rd),
                    matrix(rd), matrix(rd), matrix(capacity), matrix(rd), matrix(2 * rd), matrix(rd),
                    matrix((long) capacity * shape.vocab()));
        }
        return buffers[slot];
    }

    private DenseMatrix matrix(long length) {
        return DenseMatrix.allocate(type, length);
    }
}

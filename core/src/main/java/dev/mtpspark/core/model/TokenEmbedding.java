package dev.mtpspark.core.model;

import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.DynamicCustomOp;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.util.Arrays;

/**
 * The token (and learned position) embedding, computed outside SameDiff as a row lookup, with its gradient as a
 * sparse row sum. SameDiff (M2.1) cannot differentiate {@code gather} (its gradient builds a broken while loop),
 * and the differentiable alternative, a one-hot matrix times the table, costs {@code B·T·V·d} multiply-adds and
 * a {@code [B·T, V]} array forward and backward — at V = 32,000 as much work as the unembedding. Here the
 * network graph receives the embedded rows as a placeholder and returns their gradient; this class scatters
 * that gradient back onto the rows of the table that the batch used.
 *
 * <p>Layout: token ids {@code [B, C, T]} (as numbers; channel 0 the window's tokens x[t], channels c ≥ 1 the
 * look-ahead tokens x[t+c] of sequential heads) become rows {@code [B·T, C·d]}: columns {@code [c·d, (c+1)·d)}
 * embed channel c; channel 0 also gets the position row of t.
 */
final class TokenEmbedding {
    private final int[][] ids;            // [channel][b·T + t]
    private final int batch;
    private final int context;

    /**
     * Reads the token ids of a batch.
     *
     * @throws IllegalArgumentException when an id is not an integer in [0, vocabSize)
     */
    TokenEmbedding(INDArray tokens, int vocabSize) {
        long[] shape = tokens.shape();
        batch = (int) shape[0];
        int channels = (int) shape[1];
        context = (int) shape[2];
        double[] flat = tokens.dup('c').data().asDouble();
        ids = new int[channels][batch * context];
        for (int b = 0; b < batch; b++) {
            for (int c = 0; c < channels; c++) {
                for (int t = 0; t < context; t++) {
                    double v = flat[(b * channels + c) * context + t];
                    int id = (int) v;
                    if (id != v || id < 0 || id >= vocabSize) {
                        throw new IllegalArgumentException("token id " + v + " at [" + b + ", " + c + ", " + t
                                + "] is not an integer in [0, " + vocabSize + ")");
                    }
                    ids[c][b * context + t] = id;
                }
            }
        }
    }

    /** The embedded rows {@code [B·T, C·d]}, detached from any workspace; {@code positions} may be null. */
    INDArray rows(INDArray tokenTable, INDArray positions) {
        try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
            int d = (int) tokenTable.size(1);
            INDArray rows = Nd4j.createUninitialized(tokenTable.dataType(), (long) batch * context, (long) ids.length * d);
            for (int c = 0; c < ids.length; c++) {
                INDArray gathered = gather(tokenTable, ids[c]);
                if (c == 0 && positions != null) {
                    // [B, T, d] + [T, d]: each window's rows get the position rows.
                    for (int b = 0; b < batch; b++) {
                        gathered.get(NDArrayIndex.interval((long) b * context, (long) (b + 1) * context), NDArrayIndex.all()).addi(positions);
                    }
                }
                rows.get(NDArrayIndex.all(), NDArrayIndex.interval((long) c * d, (long) (c + 1) * d)).assign(gathered);
            }
            return rows;
        }
    }

    private static INDArray gather(INDArray table, int[] rowIds) {
        INDArray out = Nd4j.createUninitialized(table.dataType(), rowIds.length, table.size(1));
        Nd4j.exec(DynamicCustomOp.builder("gather").addInputs(table, Nd4j.createFromArray(rowIds)).addOutputs(out)
                .addIntegerArguments(0).build());
        return out;
    }

    /**
     * Writes the gradient of the tables from the gradient of the rows {@code [B·T, C·d]}: the token table's row v
     * gets the sum of the row gradients of every position (and channel) holding token v, the position table's
     * row t the sum over the batch of channel 0's gradient at t. Overwrites {@code tokenGradient} and
     * {@code positionGradient} (which may be null).
     */
    void writeGradients(INDArray rowGradient, INDArray tokenGradient, INDArray positionGradient) {
        int d = (int) tokenGradient.size(1);
        int width = ids.length * d;
        double[] g = rowGradient.dup('c').data().asDouble();
        // Sum per distinct token in Java (exact with repeated tokens), then write only those rows.
        int vocab = (int) tokenGradient.size(0);
        int[] slot = new int[vocab];
        Arrays.fill(slot, -1);
        int distinct = 0;
        int[] order = new int[ids.length * ids[0].length];
        for (int[] channel : ids) {
            for (int id : channel) {
                if (slot[id] < 0) {
                    slot[id] = distinct;
                    order[distinct++] = id;
                }
            }
        }
        double[] sums = new double[distinct * d];
        for (int c = 0; c < ids.length; c++) {
            for (int n = 0; n < ids[c].length; n++) {
                int base = slot[ids[c][n]] * d;
                int from = n * width + c * d;
                for (int j = 0; j < d; j++) {
                    sums[base + j] += g[from + j];
                }
            }
        }
        tokenGradient.assign(0);
        if (distinct > 0) {
            INDArray updates = Nd4j.createFromArray(sums).reshape(distinct, d).castTo(tokenGradient.dataType());
            Nd4j.exec(DynamicCustomOp.builder("scatter_upd")
                    .addInputs(tokenGradient, Nd4j.createFromArray(Arrays.copyOf(order, distinct)), updates)
                    .addOutputs(tokenGradient).build());
        }
        if (positionGradient != null) {
            double[] pos = new double[context * d];
            for (int n = 0; n < ids[0].length; n++) {
                int t = n % context;
                for (int j = 0; j < d; j++) {
                    pos[t * d + j] += g[n * width + j];
                }
            }
            positionGradient.assign(Nd4j.createFromArray(pos).reshape(context, d).castTo(positionGradient.dataType()));
        }
    }
}

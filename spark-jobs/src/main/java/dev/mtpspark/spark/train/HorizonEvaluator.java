package dev.mtpspark.spark.train;

import dev.mtpspark.core.config.MtpModelConfig;
import dev.mtpspark.core.model.MtpBatches;
import dev.mtpspark.core.stats.HorizonStats;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

/**
 * Per-horizon statistics of a model over an RDD of windows: the parameters are broadcast, every partition
 * scores its windows in batches, and the sums are tree-aggregated on the driver. DL4J's own Spark evaluation
 * scores only output 0, so it cannot give per-horizon figures.
 */
public final class HorizonEvaluator {
    /** Logit elements per forward pass (B·n·T·V), bounding executor memory for large vocabularies. */
    static final long MAX_LOGIT_ELEMENTS = 1L << 25;

    private HorizonEvaluator() {
    }

    public static HorizonStats evaluate(JavaSparkContext sc, ComputationGraph graph, MtpModelConfig config,
                                        JavaRDD<int[]> windows, int batchSize) throws java.io.IOException {
        Broadcast<String> confJson = sc.broadcast(graph.getConfiguration().toJson());
        Broadcast<byte[]> params = sc.broadcast(Nd4j.toByteArray(graph.params()));
        int n = config.predictedTokens();
        int batch = effectiveBatch(config, batchSize);
        try {
            return windows.mapPartitions((Iterator<int[]> it) -> {
                ComputationGraph net = new ComputationGraph(ComputationGraphConfiguration.fromJson(confJson.value()));
                net.init(Nd4j.fromByteArray(params.value()), false);
                HorizonStats stats = new HorizonStats(n);
                List<int[]> pending = new ArrayList<>(batch);
                while (it.hasNext()) {
                    pending.add(it.next());
                    if (pending.size() == batch || !it.hasNext()) {
                        var mds = MtpBatches.fromWindows(pending.toArray(new int[0][]), config, DataType.FLOAT);
                        INDArray logits = net.outputSingle(false, mds.getFeatures(0));
                        stats.merge(HorizonStats.fromLogits(logits, mds.getLabels(0)));
                        pending.clear();
                    }
                }
                return List.of(stats).iterator();
            }).treeAggregate(new HorizonStats(n), HorizonStats::merge, HorizonStats::merge);
        } finally {
            confJson.destroy();
            params.destroy();
        }
    }

    static int effectiveBatch(MtpModelConfig config, int batchSize) {
        long perWindow = (long) config.predictedTokens() * config.contextLength() * config.vocabSize();
        return (int) Math.max(1, Math.min(batchSize, MAX_LOGIT_ELEMENTS / perWindow));
    }
}

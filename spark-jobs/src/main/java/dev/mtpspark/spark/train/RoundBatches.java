package dev.mtpspark.spark.train;

import dev.mtpspark.core.config.MtpModelConfig;
import dev.mtpspark.core.model.MtpBatches;
import dev.mtpspark.core.train.WindowOrder;
import org.apache.spark.Partitioner;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.dataset.api.MultiDataSet;
import scala.Tuple2;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The minibatches of one parameter-averaging round, built on the executors from the cached, indexed training
 * windows.
 *
 * <p>A round consumes the {@code workers × averagingFrequency × batch} windows at positions
 * {@code [start, start + m)} of the {@link WindowOrder}. Slot s of the round goes to minibatch s / batch, and
 * worker w receives minibatches {@code [w·F, (w+1)·F)} in order — one partition per worker, exactly as DL4J's
 * worker expects, so the content and order of every worker's minibatches depend only on the seed and the
 * position. That is what makes a resumed run identical to an uninterrupted one.
 */
public final class RoundBatches {
    private RoundBatches() {
    }

    /** Window index → the round slots it fills (a window can fill two slots when the round spans epochs). */
    static Map<Long, int[]> slots(WindowOrder order, long start, int count) {
        Map<Long, int[]> slots = new HashMap<>();
        for (int s = 0; s < count; s++) {
            long index = order.windowAt(start + s);
            int[] prev = slots.get(index);
            int[] next;
            if (prev == null) {
                next = new int[]{s};
            } else {
                next = java.util.Arrays.copyOf(prev, prev.length + 1);
                next[prev.length] = s;
            }
            slots.put(index, next);
        }
        return slots;
    }

    public static JavaRDD<MultiDataSet> build(JavaSparkContext sc, JavaPairRDD<Long, int[]> indexedWindows,
                                              WindowOrder order, long start, int workers, int perWorker, int batch,
                                              MtpModelConfig config) {
        int count = workers * perWorker * batch;
        Broadcast<Map<Long, int[]>> wanted = sc.broadcast(slots(order, start, count));
        JavaPairRDD<Integer, int[]> bySlot = indexedWindows.flatMapToPair(t -> {
            int[] s = wanted.value().get(t._1());
            if (s == null) {
                return java.util.Collections.emptyIterator();
            }
            List<Tuple2<Integer, int[]>> out = new ArrayList<>(s.length);
            for (int slot : s) {
                out.add(new Tuple2<>(slot, t._2()));
            }
            return out.iterator();
        });
        int windowsPerWorker = perWorker * batch;
        return bySlot.repartitionAndSortWithinPartitions(new WorkerPartitioner(workers, windowsPerWorker))
                .mapPartitions(it -> {
                    List<MultiDataSet> batches = new ArrayList<>(perWorker);
                    List<int[]> pending = new ArrayList<>(batch);
                    while (it.hasNext()) {
                        pending.add(it.next()._2());
                        if (pending.size() == batch) {
                            batches.add(MtpBatches.fromWindows(pending.toArray(new int[0][]), config, DataType.FLOAT));
                            pending.clear();
                        }
                    }
                    if (!pending.isEmpty()) {
                        throw new IllegalStateException("a worker received " + pending.size() + " windows beyond whole batches");
                    }
                    return batches.iterator();
                });
    }

    /** Slot s → worker s / windowsPerWorker. */
    static final class WorkerPartitioner extends Partitioner {
        private final int workers;
        private final int windowsPerWorker;

        WorkerPartitioner(int workers, int windowsPerWorker) {
            this.workers = workers;
            this.windowsPerWorker = windowsPerWorker;
        }

        @Override
        public int numPartitions() {
            return workers;
        }

        @Override
        public int getPartition(Object key) {
            return Math.min(workers - 1, (Integer) key / windowsPerWorker);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof WorkerPartitioner p && p.workers == workers && p.windowsPerWorker == windowsPerWorker;
        }

        @Override
        public int hashCode() {
            return 31 * workers + windowsPerWorker;
        }
    }
}

package dev.mtpspark.core.model;

import org.nd4j.linalg.api.blas.Blas;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Environment;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.nativeblas.NativeOpsHolder;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * Runs one training step's forward and backward pass on several threads at once, each thread on a contiguous
 * share (shard) of the minibatch's windows, and sums the shards' parameter gradients into the layer's gradient.
 * The loss is a sum over windows, so the summed gradient is the whole batch's gradient: the step is the same
 * function, only the order of floating-point additions differs.
 *
 * <p>Why: at the recipe shapes every product is too small to split well over the cores, while whole shards keep
 * every core busy (docs/performance.md, improvement 7). While a step runs, ND4J's operations and OpenBLAS are set
 * to the step's threads per shard (its thread budget divided by the shards; see {@link #withOpThreads}).
 *
 * <p>Shard 0 runs on the calling thread with the layer's own network instance; shard {@code j ≥ 1} on its own
 * worker thread with its own instance (each owns its activation buffers; all read the same parameters), writing
 * its gradients into its own flat buffer laid out as the layer's gradient vector, so combining them is one
 * addition per shard. Worker threads are daemons that end after a minute idle.
 */
final class BatchShards<G> {
    /** Work on one shard: run {@code network} on shard {@code shard}, write the parameter gradients into {@code target}; returns the shard's loss. */
    interface ShardWork<G> {
        double run(G network, int shard, Map<String, INDArray> target);
    }

    private static final AtomicInteger THREAD_IDS = new AtomicInteger();

    private final int shards;
    private final List<ThreadPoolExecutor> workers = new ArrayList<>();
    private final List<G> networks = new ArrayList<>();
    private final List<INDArray> buffers = new ArrayList<>();
    private final List<Map<String, INDArray>> bufferViews = new ArrayList<>();

    /**
     * @param shards       the number of shards, ≥ 2
     * @param factory      builds the network instance of one more shard
     * @param gradientView the layer's flat gradient vector
     * @param viewsOf      splits a flat vector laid out as {@code gradientView} into one array per parameter
     */
    BatchShards(int shards, Supplier<G> factory, INDArray gradientView,
                Function<INDArray, Map<String, INDArray>> viewsOf) {
        this.shards = shards;
        try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
            for (int j = 1; j < shards; j++) {
                networks.add(factory.get());
                INDArray buffer = Nd4j.createUninitializedDetached(gradientView.dataType(), gradientView.shape());
                buffers.add(buffer);
                bufferViews.add(viewsOf.apply(buffer));
                ThreadPoolExecutor worker = new ThreadPoolExecutor(1, 1, 60, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), r -> {
                    Thread t = new Thread(r, "mtp-batch-shard-" + THREAD_IDS.incrementAndGet());
                    t.setDaemon(true);
                    return t;
                });
                worker.allowCoreThreadTimeOut(true);
                workers.add(worker);
            }
        }
    }

    int shards() {
        return shards;
    }

    /** The first window of shard {@code j} of a batch of {@code batch} windows (shard j holds windows [start(j), start(j+1))). */
    long start(int j, long batch) {
        return j * batch / shards;
    }

    /**
     * Runs {@code work} for every shard at once and leaves the sum of the shards' gradients in
     * {@code layerGradients} (shard 0 writes there directly; every shard must write every parameter's gradient,
     * or zeros).
     *
     * @return the sum of the shards' losses
     */
    double run(ShardWork<G> work, G own, Map<String, INDArray> layerGradients, INDArray layerGradientView,
               int threadsPerShard) {
        return withOpThreads(threadsPerShard, () -> runShards(work, own, layerGradients, layerGradientView, threadsPerShard));
    }

    private double runShards(ShardWork<G> work, G own, Map<String, INDArray> layerGradients, INDArray layerGradientView,
                             int threadsPerShard) {
        List<Future<Double>> pending = new ArrayList<>();
        try {
            for (int j = 1; j < shards; j++) {
                int shard = j;
                G network = networks.get(j - 1);
                Map<String, INDArray> target = bufferViews.get(j - 1);
                pending.add(workers.get(j - 1).submit(() -> {
                    setThreadOmp(threadsPerShard);
                    return work.run(network, shard, target);
                }));
            }
            double loss = work.run(own, 0, layerGradients);
            for (Future<Double> f : pending) {
                loss += f.get();
            }
            for (INDArray buffer : buffers) {
                layerGradientView.addi(buffer);
            }
            return loss;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for the batch shards", e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            if (e.getCause() instanceof Error err) {
                throw err;
            }
            throw new IllegalStateException("a batch shard failed", e.getCause());
        } finally {
            for (Future<Double> f : pending) {
                try {
                    f.get();              // never leave a worker writing into the buffers after a failure
                } catch (Exception ignored) {
                    // the first failure is already being thrown
                }
            }
        }
    }

    private static boolean onCpu() {
        return Nd4j.getEnvironment().isCPU();
    }

    /** OpenBLAS (OpenMP build) takes its thread count from the calling thread's OpenMP setting. */
    private static void setThreadOmp(int threads) {
        if (onCpu()) {
            NativeOpsHolder.getInstance().getDeviceNativeOps().setOmpNumThreads(threads);
        }
    }

    private static final Object THREAD_SETTINGS = new Object();
    private static int activeSteps;
    private static int savedOpThreads;
    private static int savedBlasThreads;

    /**
     * Runs {@code body} (a training step, or its shards) with ND4J's operations and OpenBLAS set to {@code threads}
     * threads each (CPU backend; nothing changes on a GPU). The process-wide settings are taken by the first of
     * concurrent steps and restored when the last one ends (concurrent steps in one JVM are tasks of one Spark
     * executor, with one setting); the calling thread's OpenMP setting is restored when {@code body} returns.
     */
    static double withOpThreads(int threads, Supplier<Double> body) {
        if (!onCpu()) {
            return body.get();
        }
        int callerOmp = NativeOpsHolder.getInstance().getDeviceNativeOps().ompGetMaxThreads();
        synchronized (THREAD_SETTINGS) {
            if (activeSteps++ == 0) {
                Environment env = Nd4j.getEnvironment();
                Blas blas = Nd4j.factory().blas();
                savedOpThreads = env.maxMasterThreads();
                savedBlasThreads = blas.getMaxThreads();
                env.setMaxMasterThreads(threads);
                blas.setMaxThreads(threads);
            }
        }
        setThreadOmp(threads);
        try {
            return body.get();
        } finally {
            setThreadOmp(callerOmp);
            synchronized (THREAD_SETTINGS) {
                if (--activeSteps == 0) {
                    Nd4j.getEnvironment().setMaxMasterThreads(savedOpThreads);
                    Nd4j.factory().blas().setMaxThreads(savedBlasThreads);
                }
            }
        }
    }
}

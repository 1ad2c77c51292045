package dev.mtpspark.spark.train;

import dev.mtpspark.spark.tokenize.BadInputException;
import org.apache.spark.SparkEnv;
import org.apache.spark.api.java.JavaSparkContext;
import org.nd4j.linalg.factory.Nd4j;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.Serializable;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Properties;
import java.util.stream.IntStream;

/**
 * Which ND4J backend and devices the driver and each executor actually loaded. Logged at the start of every
 * training run, and checked when a GPU was requested: ND4J silently falls back to whatever backend is on the
 * class path, so a CPU-only jar on GPU executors would otherwise train — slowly — on the CPU.
 */
public final class BackendProbe {
    private static final Logger LOG = LoggerFactory.getLogger(BackendProbe.class);

    private BackendProbe() {
    }

    /** One JVM's ND4J backend. */
    public record Backend(String executor, String host, String backend, int devices, String devicesInfo) implements Serializable {
        boolean isCuda() {
            return backend.toLowerCase().contains("cuda") || backend.toLowerCase().contains("cublas");
        }
    }

    /** This JVM's backend. */
    public static Backend local() {
        String executor = SparkEnv.get() == null ? "local" : SparkEnv.get().executorId();
        String host;
        try {
            host = InetAddress.getLocalHost().getHostName();
        } catch (Exception e) {
            host = "?";
        }
        Properties env = Nd4j.getExecutioner().getEnvironmentInformation();
        Object devices = env.getOrDefault("cuda.devicesInformation", env.getOrDefault("cores", "?") + " CPU cores, "
                + env.getOrDefault("omp.threads", "?") + " OpenMP threads");
        return new Backend(executor, host, Nd4j.getBackend().getClass().getSimpleName(),
                Nd4j.getAffinityManager().getNumberOfDevices(), String.valueOf(devices));
    }

    /**
     * Probes the driver and {@code tasks} executor tasks, logs what each loaded, and fails when {@code requireGpu}
     * and any of them is not on the CUDA backend.
     */
    public static List<Backend> check(JavaSparkContext jsc, int tasks, boolean requireGpu) {
        LinkedHashSet<Backend> distinct = new LinkedHashSet<>();     // in local mode the tasks run in the driver JVM
        distinct.add(local());
        distinct.addAll(jsc.parallelize(IntStream.range(0, tasks).boxed().toList(), tasks).map(i -> local()).collect());
        List<Backend> all = new ArrayList<>(distinct);
        for (Backend b : all) {
            LOG.info("ND4J on {} ({}): {} with {} device(s): {}", b.executor(), b.host(), b.backend(), b.devices(), b.devicesInfo());
        }
        if (requireGpu) {
            for (Backend b : all) {
                if (!b.isCuda()) {
                    throw new BadInputException("training.require-gpu is true (or spark.executor.resource.gpu.amount > 0), but "
                            + (b.executor().equals("driver") || b.executor().equals("local") ? "the driver" : "executor " + b.executor())
                            + " on " + b.host() + " loaded ND4J's " + b.backend() + ", not the CUDA backend. Build the application jar with "
                            + "`mvn -Pcuda -DskipTests package -pl app -am` and make the CUDA 11.6 runtime available on every node "
                            + "(see docs/gpu.md), or set training.require-gpu: false to train on CPUs.");
                }
            }
        }
        return all;
    }
}

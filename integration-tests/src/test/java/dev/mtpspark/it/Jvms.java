package dev.mtpspark.it;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * Starting and stopping the JVMs of the integration tests (Spark master, workers, SparkSubmit): Java 17 from
 * {@code java.home}, Spark's module flags, output to a log file, and whole process trees killed on stop, also
 * from a shutdown hook if the test JVM goes down without running its {@code @AfterAll}.
 */
final class Jvms {
    private static final Set<Process> STARTED = ConcurrentHashMap.newKeySet();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> STARTED.forEach(p -> killTree(p.toHandle())), "it-jvm-reaper"));
    }

    private Jvms() {
    }

    /** The java launcher of the JVM running the tests. */
    static String java() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    /** Spark's Java 17 module flags (the parent pom's {@code java17.opens}, passed as {@code mtp.java17.opens}). */
    static List<String> opens() {
        String flags = System.getProperty("mtp.java17.opens", "");
        if (!flags.contains("--add-opens")) {
            throw new IllegalStateException("system property mtp.java17.opens is not set (run the tests through Maven Failsafe)");
        }
        return Arrays.stream(flags.trim().split("\\s+")).toList();
    }

    static String opensString() {
        return String.join(" ", opens());
    }

    /** A free TCP port on the loopback interface (free when asked; the usual small race is accepted). */
    static int freePort() {
        try (ServerSocket s = new ServerSocket(0)) {
            s.setReuseAddress(true);
            return s.getLocalPort();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Starts a process with stdout and stderr in {@code log}; the command line is written to {@code log}.cmd. */
    static Process start(List<String> command, Map<String, String> env, Path log) throws IOException {
        Files.createDirectories(log.getParent());
        Files.writeString(log.resolveSibling(log.getFileName() + ".cmd"), String.join(" \\\n  ", command) + "\n"
                + "# environment: " + env + "\n", StandardCharsets.UTF_8);
        ProcessBuilder pb = new ProcessBuilder(new ArrayList<>(command)).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().putAll(env);
        Process p = pb.start();
        STARTED.add(p);
        return p;
    }

    /** Kills a process and all its descendants (executors are children of the workers) and waits for them. */
    static void killTree(ProcessHandle root) {
        List<ProcessHandle> all = new ArrayList<>(root.descendants().toList());
        all.add(root);
        all.forEach(ProcessHandle::destroyForcibly);
        for (ProcessHandle h : all) {
            try {
                h.onExit().get(30, TimeUnit.SECONDS);
            } catch (Exception ignored) {
                // best effort: reported by the caller's checks if it matters
            }
        }
    }

    static void stop(Process p) {
        if (p != null) {
            killTree(p.toHandle());
            STARTED.remove(p);
        }
    }

    /** Waits for a process to end; kills its tree and returns -1 when the timeout passes first. */
    static int waitFor(Process p, Duration timeout) throws InterruptedException {
        if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            stop(p);
            return -1;
        }
        STARTED.remove(p);
        return p.exitValue();
    }

    /** The last {@code maxChars} characters of a log file, for assertion messages. */
    static String tail(Path log, int maxChars) {
        try {
            String s = Files.readString(log, StandardCharsets.UTF_8);
            return s.length() <= maxChars ? s : "…" + s.substring(s.length() - maxChars);
        } catch (IOException e) {
            return "(cannot read " + log + ": " + e + ")";
        }
    }

    /** Deletes a directory tree (no-op when absent); links are deleted, not followed. */
    static void deleteRecursively(Path dir) throws IOException {
        if (!Files.exists(dir, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (java.util.stream.Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}

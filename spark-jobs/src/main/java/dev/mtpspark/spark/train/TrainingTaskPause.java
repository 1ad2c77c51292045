package dev.mtpspark.spark.train;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * A test hook that makes a fault land inside the work: when the executor JVM runs with
 * {@code -D}{@value #PROPERTY}{@code =<local directory>}, the first training minibatch of the whole application
 * (whichever task claims {@code <dir>/claimed} first) writes its executor's PID and, on YARN, its container id as
 * two lines of {@code <dir>/paused}, and waits
 * until {@code <dir>/release} exists. A test kills that JVM, or the container holding it, while the task is
 * certainly running, then checks that Spark retried the task. Without the property this is one static read.
 */
final class TrainingTaskPause {
    static final String PROPERTY = "mtp.test.pause-training-task";
    private static final String DIR = System.getProperty(PROPERTY);
    private static final long MAX_WAIT_NANOS = 15L * 60 * 1_000_000_000L;   // a test that never kills must not hang forever

    private TrainingTaskPause() {
    }

    /** Pauses the calling task if the hook is on and no task of this application has paused yet. */
    static void atMinibatch() {
        if (DIR == null) {
            return;
        }
        Path dir = Path.of(DIR);
        try {
            Files.createDirectories(dir);
            Files.createFile(dir.resolve("claimed"));
        } catch (FileAlreadyExistsException e) {
            return;                                   // another task (or an earlier attempt of this one) paused already
        } catch (IOException e) {
            throw new UncheckedIOException("test hook " + PROPERTY + ": cannot use " + dir, e);
        }
        try {
            Path tmp = dir.resolve("paused.tmp");
            String container = System.getenv("CONTAINER_ID");      // set by YARN in its containers
            Files.writeString(tmp, ProcessHandle.current().pid() + "\n" + (container == null ? "" : container) + "\n",
                    StandardCharsets.UTF_8);
            Files.move(tmp, dir.resolve("paused"), StandardCopyOption.ATOMIC_MOVE);
            long deadline = System.nanoTime() + MAX_WAIT_NANOS;
            while (!Files.exists(dir.resolve("release"))) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("test hook " + PROPERTY + ": nobody released " + dir + " within 15 minutes");
                }
                Thread.sleep(100);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("test hook " + PROPERTY + ": cannot use " + dir, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

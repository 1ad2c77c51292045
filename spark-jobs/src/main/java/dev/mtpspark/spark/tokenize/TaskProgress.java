package dev.mtpspark.spark.tokenize;

import org.apache.spark.SparkContext;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A progress line for a long pass over the corpus: as each task (a split of files of known size) finishes, the
 * driver logs tasks and megabytes done, MB/s and the ETA, at most every few seconds and for the last task. The last
 * line adds the work rate per core: bytes over the tasks' summed run time, which unlike the wall-clock rate does
 * not depend on how many cores the job had or on idle cores at the end of the stage.
 */
final class TaskProgress extends SparkListener implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(TaskProgress.class);

    private final SparkContext sc;
    private final String what;
    private final long[] splitBytes;
    private final long totalBytes;
    private final long start = System.nanoTime();
    private final AtomicInteger done = new AtomicInteger();
    private final AtomicLong bytesDone = new AtomicLong();
    private final AtomicLong taskMillis = new AtomicLong();
    private final CountDownLatch lastLine = new CountDownLatch(1);
    private volatile long lastLog;
    private volatile int stage = -1;

    TaskProgress(SparkContext sc, String what, long[] splitBytes) {
        this.sc = sc;
        this.what = what;
        this.splitBytes = splitBytes;
        long total = 0;
        for (long b : splitBytes) {
            total += b;
        }
        this.totalBytes = total;
        sc.addSparkListener(this);
    }

    @Override
    public void onStageSubmitted(org.apache.spark.scheduler.SparkListenerStageSubmitted submitted) {
        if (submitted.stageInfo().numTasks() == splitBytes.length) {
            stage = submitted.stageInfo().stageId();   // the pass's stage: one task per split
        }
    }

    @Override
    public void onTaskEnd(SparkListenerTaskEnd end) {
        if (!end.taskInfo().successful() || end.stageId() != stage || end.taskInfo().index() >= splitBytes.length) {
            return;                                   // another stage's tasks
        }
        int n = done.incrementAndGet();
        long bytes = bytesDone.addAndGet(splitBytes[end.taskInfo().index()]);
        long millis = taskMillis.addAndGet(end.taskMetrics() == null ? 0 : end.taskMetrics().executorRunTime());
        long now = System.nanoTime();
        if (n == splitBytes.length || now - lastLog > 5_000_000_000L) {
            lastLog = now;
            double seconds = (now - start) / 1e9;
            double rate = bytes / 1e6 / Math.max(seconds, 1e-9);
            LOG.info(String.format(Locale.ROOT, "%s: %d/%d tasks, %.1f of %.1f MB (%.0f%%), %.1f MB/s, ETA %.0f s", what, n,
                    splitBytes.length, bytes / 1e6, totalBytes / 1e6, 100.0 * bytes / Math.max(1, totalBytes), rate,
                    rate > 0 ? (totalBytes - bytes) / 1e6 / rate : 0)
                    + (n == splitBytes.length && millis > 0 ? String.format(Locale.ROOT,
                    "; %.1f task-seconds, %.1f MB/s per core", millis / 1e3, bytes / 1e3 / millis) : ""));
        }
        if (n == splitBytes.length) {
            lastLine.countDown();
        }
    }

    /**
     * Waits (a few seconds at most) until the last task's line is logged. Call it when the pass has succeeded: Spark's
     * listener bus delivers task ends after the job returns, so closing at once could drop the last line.
     */
    void awaitLastLine() throws InterruptedException {
        lastLine.await(5, TimeUnit.SECONDS);
    }

    @Override
    public void close() {
        sc.removeSparkListener(this);
    }
}

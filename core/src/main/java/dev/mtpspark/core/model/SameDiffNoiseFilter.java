package dev.mtpspark.core.model;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/**
 * DL4J 1.0.0-M2.1 prints "Added differentiated op …" to standard output for every op of every SameDiff layer
 * it differentiates — thousands of lines per network, on the driver and on every executor. This filter drops
 * exactly those lines from {@code System.out} and passes everything else through unchanged.
 */
public final class SameDiffNoiseFilter extends OutputStream {
    private static final String NOISE = "Added differentiated op";
    private static volatile boolean installed;

    private final PrintStream target;
    private final ByteArrayOutputStream line = new ByteArrayOutputStream(256);

    SameDiffNoiseFilter(PrintStream target) {
        this.target = target;
    }

    /** Installs the filter on {@code System.out} once per JVM. */
    public static synchronized void install() {
        if (!installed) {
            System.setOut(new PrintStream(new SameDiffNoiseFilter(System.out), true, StandardCharsets.UTF_8));
            installed = true;
        }
    }

    @Override
    public synchronized void write(int b) {
        line.write(b);
        if (b == '\n') {
            emit();
        }
    }

    @Override
    public synchronized void write(byte[] b, int off, int len) {
        for (int i = off; i < off + len; i++) {
            write(b[i]);
        }
    }

    @Override
    public synchronized void flush() {
        // A partial line may still turn out to be noise; it is written when its newline arrives.
        target.flush();
    }

    private void emit() {
        byte[] bytes = line.toByteArray();
        line.reset();
        if (!new String(bytes, 0, Math.min(bytes.length, NOISE.length()), StandardCharsets.UTF_8).equals(NOISE)) {
            target.write(bytes, 0, bytes.length);
            target.flush();
        }
    }
}

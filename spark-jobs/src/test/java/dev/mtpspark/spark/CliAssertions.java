package dev.mtpspark.spark;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Runs the command line in-process and checks its exit code and what it printed to standard error. */
public final class CliAssertions {
    private CliAssertions() {
    }

    public static void assertError(int code, String message, String... args) {
        PrintStream err = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
        int exit;
        try {
            exit = MtpCli.execute(args);
        } finally {
            System.setErr(err);
        }
        String text = captured.toString(StandardCharsets.UTF_8);
        assertEquals(code, exit, text);
        assertTrue(text.contains(message), "expected '" + message + "' in: " + text);
    }
}

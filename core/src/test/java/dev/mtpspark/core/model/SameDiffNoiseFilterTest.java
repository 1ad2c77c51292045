package dev.mtpspark.core.model;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;

class SameDiffNoiseFilterTest {
    @Test
    void dropsOnlyTheDifferentiatedOpLines() {
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(new SameDiffNoiseFilter(new PrintStream(captured, true, StandardCharsets.UTF_8)),
                true, StandardCharsets.UTF_8);
        out.println("step 1");
        out.println("Added differentiated op mmul");
        out.print("Added differentiated op add\nloss 2.5\n");
        out.println("Added: not noise");
        assertEquals("step 1\nloss 2.5\nAdded: not noise\n", captured.toString(StandardCharsets.UTF_8).replace("\r\n", "\n"));
    }
}

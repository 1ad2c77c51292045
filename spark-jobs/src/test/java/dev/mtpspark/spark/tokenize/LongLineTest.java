package dev.mtpspark.spark.tokenize;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedOutputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * A 200 MB line without a newline is streamed: the job runs in its own JVM with a 1 GiB heap (driver and
 * executor in Spark local mode) and tokenizes it completely.
 */
class LongLineTest {
    private static final long SIZE = 200L << 20;

    @Test
    void a200MegabyteLineTokenizesWithAOneGigabyteHeap(@TempDir Path dir) throws Exception {
        Path input = dir.resolve("one-line.txt");
        byte[] pattern = "all the world's a stage, and all the men and women merely players; ".getBytes(StandardCharsets.UTF_8);
        try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(input), 1 << 20)) {
            for (long written = 0; written < SIZE; written += pattern.length) {
                out.write(pattern, 0, (int) Math.min(pattern.length, SIZE - written));
            }
        }
        Path output = dir.resolve("out");
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx1g"));
        for (String flag : System.getProperty("mtp.java17.opens", "").split(" ")) {
            if (!flag.isBlank()) {
                command.add(flag);
            }
        }
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), TokenizeCommand.class.getName(),
                "--input", input.toString(), "--text-mode", "line", "--tokenizer", "byte", "--context-length", "256",
                "--predicted-tokens", "4", "--output", output.toString()));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(dir.resolve("job.log").toFile()).start();
        assertTrue(p.waitFor(15, TimeUnit.MINUTES), "job did not finish in 15 minutes");
        String log = Files.readString(dir.resolve("job.log"));
        assertEquals(0, p.exitValue(), "job failed:\n" + log.substring(Math.max(0, log.length() - 4000)));
        assertFalse(log.contains("OutOfMemoryError"), log);

        JsonNode m = new ObjectMapper().readTree(output.resolve("manifest.json").toFile());
        long tokens = m.at("/splits/train/tokens").asLong() + m.at("/splits/validation/tokens").asLong();
        assertEquals(SIZE + 1, tokens, "every byte plus one <eos>");
        assertEquals(1, m.at("/splits/train/documents").asLong() + m.at("/splits/validation/documents").asLong());
    }
}

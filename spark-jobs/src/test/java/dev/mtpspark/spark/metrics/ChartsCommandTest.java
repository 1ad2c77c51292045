package dev.mtpspark.spark.metrics;

import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

class ChartsCommandTest {
    @TempDir
    Path tmp;

    private record Result(int status, String out, String err) {
    }

    private static Result run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        picocli.CommandLine cl = ChartsCommand.commandLine();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int status = cl.execute(args);
        return new Result(status, out.toString(), err.toString());
    }

    @Test
    void rendersChartsAndReportOfARun() throws Exception {
        MetricsLog log = MetricsLog.open(new org.apache.hadoop.fs.Path(tmp.toUri()), new Configuration(), 2, -1);
        Rows.run(2, 100).forEach(log::append);
        log.flush();

        Result r = run("--run", tmp.toString(), "--title", "my run");
        assertEquals(0, r.status(), r.err());
        assertTrue(r.out().contains("12 metrics rows"), r.out());
        assertTrue(r.out().contains("report.md"), r.out());
        for (String name : new String[]{"loss.png", "accuracy.png", "report.md"}) {
            assertTrue(Files.size(tmp.resolve(name)) > 0, name);
        }
        assertTrue(Files.readString(tmp.resolve("report.md")).startsWith("# my run\n"));

        Result uri = run("--run", tmp.toUri().toString());        // file:// URIs work as well
        assertEquals(0, uri.status(), uri.err());
        assertTrue(Files.readString(tmp.resolve("report.md")).startsWith("# Training run " + tmp.getFileName()));
    }

    @Test
    void missingMetricsFileIsBadInput() {
        Result r = run("--run", tmp.toString());
        assertEquals(2, r.status());
        assertTrue(r.err().startsWith("error: no metrics file "), r.err());
        assertTrue(r.err().contains(tmp.resolve("metrics.jsonl").toString()), r.err());

        Result missingDir = run("--run", tmp.resolve("nope").toString());
        assertEquals(2, missingDir.status());
        assertTrue(missingDir.err().contains(tmp.resolve("nope") + " does not exist"), missingDir.err());

        assertEquals(2, run().status(), "--run is required");
    }

    @Test
    void unreadableMetricsFileIsBadInput() throws Exception {
        Files.writeString(tmp.resolve("metrics.jsonl"), "{\"split\":\"train\"}\n");
        Result r = run("--run", tmp.toString());
        assertEquals(2, r.status());
        assertTrue(r.err().contains(tmp.resolve("metrics.jsonl") + " line 1"), r.err());
        assertFalse(Files.exists(tmp.resolve("loss.png")));
    }
}

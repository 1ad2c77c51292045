package dev.mtpspark.core.data;

import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** The read-only corpora in {@code ../shared/corpora} beside the checkout (present on CI and developer machines). */
public final class SharedCorpora {
    private SharedCorpora() {
    }

    /** Path of tiny Shakespeare; fails on CI when absent, skips the test elsewhere with the reason. */
    public static Path tinyShakespeare() {
        Path p = Path.of(System.getProperty("mtp.shared.dir", "../shared"), "corpora", "tinyshakespeare.txt").normalize();
        if (!Files.isRegularFile(p)) {
            String why = "tiny Shakespeare not found at " + p.toAbsolutePath() + " (../shared/corpora beside the checkout)";
            if (System.getenv("CI") != null) {
                throw new IllegalStateException(why);
            }
            Assumptions.abort(why);
        }
        return p;
    }

    public static byte[] tinyShakespeareBytes() throws IOException {
        return Files.readAllBytes(tinyShakespeare());
    }
}

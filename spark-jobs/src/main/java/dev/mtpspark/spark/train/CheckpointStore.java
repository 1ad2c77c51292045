package dev.mtpspark.spark.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mtpspark.core.model.MtpModel;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Checkpoints of one run under {@code <run>/checkpoints/step-NNNNNNNNN/}, on any Hadoop file system.
 *
 * <p>Each checkpoint holds {@code model.zip} (DL4J format: configuration, parameters, updater state and the
 * iteration count that drives the learning-rate schedule), {@code state.json} ({@link TrainState}),
 * {@code config.yaml} (the effective configuration), {@code tokenizer.json}, {@code dataset-manifest.json}, and
 * last {@code checksums.sha256}. It is written under a temporary name and renamed when complete, so a crash
 * leaves either a whole checkpoint or an ignored temporary directory; on load every checksum is verified and a
 * damaged checkpoint is skipped with a warning in favour of the previous one.
 */
public final class CheckpointStore {
    private static final Logger LOG = LoggerFactory.getLogger(CheckpointStore.class);
    public static final String DIR = "checkpoints";
    public static final String MODEL = "model.zip";
    public static final String STATE = "state.json";
    public static final String CONFIG = "config.yaml";
    public static final String TOKENIZER = "tokenizer.json";
    public static final String MANIFEST = "dataset-manifest.json";
    public static final String CHECKSUMS = "checksums.sha256";
    private static final Pattern NAME = Pattern.compile("step-(\\d{9,})");
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path root;
    private final FileSystem fs;

    public CheckpointStore(Path runDir, Configuration conf) throws IOException {
        this.root = new Path(runDir, DIR);
        this.fs = root.getFileSystem(conf);
    }

    /** A checkpoint read back and verified. */
    public record Loaded(Path path, MtpModel model, TrainState state, String configYaml, String tokenizerJson,
                         String manifestJson) {
    }

    /** The checkpoints present (complete by name), newest first. */
    public List<Path> list() throws IOException {
        List<Path> found = new ArrayList<>();
        if (!fs.exists(root)) {
            return found;
        }
        for (FileStatus s : fs.listStatus(root)) {
            if (s.isDirectory() && NAME.matcher(s.getPath().getName()).matches()) {
                found.add(s.getPath());
            }
        }
        found.sort(Comparator.comparingLong(CheckpointStore::stepOf).reversed());
        return found;
    }

    /** Writes a checkpoint atomically and deletes all but the newest {@code keep}. */
    public Path save(MtpModel model, TrainState state, String configYaml, String tokenizerJson, String manifestJson,
                     int keep) throws IOException {
        Path target = new Path(root, String.format("step-%09d", state.step()));
        Path tmp = new Path(root, ".tmp-" + target.getName() + "-" + UUID.randomUUID());
        fs.mkdirs(tmp);
        try {
            File local = Files.createTempFile("mtp-checkpoint", ".zip").toFile();
            try {
                model.save(local);
                fs.copyFromLocalFile(false, true, new Path(local.getAbsolutePath()), new Path(tmp, MODEL));
            } finally {
                Files.deleteIfExists(local.toPath());
            }
            write(new Path(tmp, STATE), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(state));
            write(new Path(tmp, CONFIG), configYaml);
            write(new Path(tmp, TOKENIZER), tokenizerJson);
            write(new Path(tmp, MANIFEST), manifestJson);
            StringBuilder sums = new StringBuilder();
            for (String name : List.of(MODEL, STATE, CONFIG, TOKENIZER, MANIFEST)) {
                sums.append(sha256(new Path(tmp, name))).append("  ").append(name).append('\n');
            }
            write(new Path(tmp, CHECKSUMS), sums.toString());
            if (fs.exists(target)) {
                fs.delete(target, true);   // a same-step checkpoint from an earlier, abandoned attempt
            }
            if (!fs.rename(tmp, target)) {
                throw new IOException("could not rename " + tmp + " to " + target);
            }
        } catch (IOException | RuntimeException e) {
            fs.delete(tmp, true);
            throw e;
        }
        prune(keep);
        return target;
    }

    /** The newest checkpoint that verifies; damaged ones are reported and skipped. */
    public Optional<Loaded> loadLatest() throws IOException {
        for (Path p : list()) {
            try {
                return Optional.of(load(p, fs.getConf()));
            } catch (IOException | RuntimeException e) {
                LOG.warn("checkpoint {} is damaged ({}); trying the previous one", p, e.getMessage());
            }
        }
        return Optional.empty();
    }

    /** Reads and verifies one checkpoint directory. */
    public static Loaded load(Path dir, Configuration conf) throws IOException {
        FileSystem fs = dir.getFileSystem(conf);
        Path sumsPath = new Path(dir, CHECKSUMS);
        if (!fs.exists(sumsPath)) {
            throw new IOException(CHECKSUMS + " is missing (incomplete checkpoint)");
        }
        Map<String, String> expected = new LinkedHashMap<>();
        for (String line : read(fs, sumsPath).split("\n")) {
            if (!line.isBlank()) {
                String[] parts = line.trim().split("\\s+", 2);
                expected.put(parts[1], parts[0]);
            }
        }
        for (String name : List.of(MODEL, STATE, CONFIG, TOKENIZER, MANIFEST)) {
            Path p = new Path(dir, name);
            if (!expected.containsKey(name) || !fs.exists(p)) {
                throw new IOException(name + " is missing");
            }
            String actual = sha256FromFs(fs, p);
            if (!actual.equals(expected.get(name))) {
                throw new IOException(name + " fails its checksum (expected " + expected.get(name) + ", found " + actual + ")");
            }
        }
        TrainState state = JSON.readValue(read(fs, new Path(dir, STATE)), TrainState.class);
        if (state.formatVersion() != TrainState.FORMAT_VERSION) {
            throw new IOException("checkpoint format " + state.formatVersion() + " is not " + TrainState.FORMAT_VERSION
                    + (state.formatVersion() == 1 ? " (format 1 was written by an earlier mtp-spark whose model had separate"
                    + " embedding and trunk layers; this version cannot load it: start a new run)" : ""));
        }
        File local = Files.createTempFile("mtp-checkpoint", ".zip").toFile();
        try {
            fs.copyToLocalFile(false, new Path(dir, MODEL), new Path(local.getAbsolutePath()), true);
            MtpModel model = MtpModel.load(local);
            return new Loaded(dir, model, state, read(fs, new Path(dir, CONFIG)), read(fs, new Path(dir, TOKENIZER)),
                    read(fs, new Path(dir, MANIFEST)));
        } finally {
            Files.deleteIfExists(local.toPath());
        }
    }

    /**
     * Resolves a user's checkpoint argument: a checkpoint directory itself, or a run directory (its newest
     * good checkpoint).
     */
    public static Loaded resolve(String pathOrRun, Configuration conf) throws IOException {
        Path p = new Path(pathOrRun);
        FileSystem fs = p.getFileSystem(conf);
        if (!fs.exists(p)) {
            throw new dev.mtpspark.spark.tokenize.BadInputException("checkpoint " + pathOrRun + " does not exist");
        }
        if (fs.exists(new Path(p, CHECKSUMS))) {
            return load(p, conf);
        }
        return new CheckpointStore(p, conf).loadLatest().orElseThrow(() -> new dev.mtpspark.spark.tokenize.BadInputException(
                pathOrRun + " holds no loadable checkpoint (expected a run directory with " + DIR
                        + "/step-*/ or a checkpoint directory with " + CHECKSUMS + ")"));
    }

    private void prune(int keep) throws IOException {
        List<Path> all = list();
        for (int i = keep; i < all.size(); i++) {
            LOG.info("deleting old checkpoint {}", all.get(i));
            fs.delete(all.get(i), true);
        }
    }

    static long stepOf(Path p) {
        Matcher m = NAME.matcher(p.getName());
        return m.matches() ? Long.parseLong(m.group(1)) : -1;
    }

    private void write(Path p, String text) throws IOException {
        try (OutputStream out = fs.create(p, true)) {
            out.write(text.getBytes(StandardCharsets.UTF_8));
        }
    }

    private static String read(FileSystem fs, Path p) throws IOException {
        try (InputStream in = fs.open(p)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    private String sha256(Path p) throws IOException {
        return sha256FromFs(fs, p);
    }

    private static String sha256FromFs(FileSystem fs, Path p) throws IOException {
        try (InputStream raw = fs.open(p); DigestInputStream in = new DigestInputStream(raw, MessageDigest.getInstance("SHA-256"))) {
            byte[] buf = new byte[1 << 16];
            while (in.read(buf) >= 0) {
                // digest accumulates
            }
            return HexFormat.of().formatHex(in.getMessageDigest().digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}

package dev.mtpspark.spark.tokenize;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mtpspark.core.data.DocumentReader;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.io.compress.CompressionCodec;
import org.apache.hadoop.io.compress.CompressionCodecFactory;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * Reads the documents of one text or JSON-lines file through the Hadoop FileSystem API, decompressing by
 * file extension (.gz, .bz2, … through Hadoop's codecs), and returns the SHA-256 of the stored bytes.
 */
final class CorpusReader {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Hadoop's default read buffer, which Spark sets to 64 KiB; a smaller file gets a buffer of its own size. */
    private static final int READ_BUFFER = 1 << 16;

    private final TokenizeConfig config;
    private final Configuration conf;
    private final CompressionCodecFactory codecs;
    // One buffer for every file of the task: corpora are often many small files, and a fresh 64 KiB buffer per
    // file (zeroed, then mostly unused) was a large share of the job's allocation and memory traffic.
    private final byte[] buffer = new byte[READ_BUFFER];

    CorpusReader(TokenizeConfig config, Configuration conf) {
        this.config = config;
        this.conf = conf;
        this.codecs = new CompressionCodecFactory(conf);
    }

    /**
     * Streams every document of {@code file} into {@code handler}; returns the file's SHA-256 (hex), or null without
     * {@code checksum} (the passes before the last, whose statistics do not reach the manifest).
     */
    String read(SourceFile file, DocumentHandler handler, TokenizeStats stats, boolean checksum) {
        Path path = new Path(file.path());
        MessageDigest sha = null;
        if (checksum) {
            try {
                sha = MessageDigest.getInstance("SHA-256");
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException(e);
            }
        }
        int bufferSize = (int) Math.max(4096, Math.min(READ_BUFFER, file.size()));
        try (InputStream stored = path.getFileSystem(conf).open(path, bufferSize);
             InputStream raw = sha == null ? stored : new DigestInputStream(stored, sha);
             InputStream in = decompressed(path, raw)) {
            CountingHandler counting = new CountingHandler(file.relativePath(), handler);
            if (config.format() == TokenizeConfig.InputFormat.JSONL) {
                readJsonLines(file, in, counting, stats);
            } else {
                DocumentReader.read(in, config.textMode(), counting, buffer);
            }
            while (in.read(buffer) >= 0) {
                // the checksum covers the whole file, read or not
            }
            stats.filesRead++;
            stats.bytesRead += file.size();
            return sha == null ? null : HexFormat.of().formatHex(sha.digest());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read input file " + file.path() + ": " + e.getMessage(), e);
        }
    }

    /** Number of characters (UTF-8 lead bytes) of a single-document text file, for the contiguous split. */
    long countCharacters(SourceFile file) {
        Path path = new Path(file.path());
        try (InputStream in = decompressed(path, path.getFileSystem(conf).open(path))) {
            byte[] buf = new byte[1 << 16];
            long count = 0;
            int n;
            while ((n = in.read(buf)) > 0) {
                for (int i = 0; i < n; i++) {
                    if ((buf[i] & 0xC0) != 0x80) {
                        count++;
                    }
                }
            }
            return count;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read input file " + file.path() + ": " + e.getMessage(), e);
        }
    }

    private InputStream decompressed(Path path, InputStream raw) throws IOException {
        CompressionCodec codec = codecs.getCodec(path);
        return codec == null ? raw : codec.createInputStream(raw);
    }

    private void readJsonLines(SourceFile file, InputStream in, DocumentHandler handler, TokenizeStats stats) throws IOException {
        BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8), 1 << 16);
        String line;
        long lineNumber = 0;
        while ((line = reader.readLine()) != null) {
            lineNumber++;
            if (line.isBlank()) {
                continue;
            }
            String where = file.path() + ":" + lineNumber;
            JsonNode node;
            try {
                node = JSON.readTree(line);
            } catch (JsonProcessingException e) {
                stats.jsonMalformedLines++;
                firstProblem(stats, where + ": not a JSON object (" + e.getOriginalMessage() + ")");
                continue;
            }
            JsonNode value = node == null || !node.isObject() ? null : node.get(config.jsonField());
            if (node == null || !node.isObject()) {
                stats.jsonMalformedLines++;
                firstProblem(stats, where + ": not a JSON object");
            } else if (value == null || value.isNull()) {
                stats.jsonMissingField++;
                firstProblem(stats, where + ": no field \"" + config.jsonField() + "\"");
            } else if (!value.isTextual()) {
                stats.jsonNonStringField++;
                firstProblem(stats, where + ": field \"" + config.jsonField() + "\" is " + value.getNodeType() + ", not a string");
            } else if (!value.textValue().isEmpty()) {
                byte[] text = value.textValue().getBytes(StandardCharsets.UTF_8);
                handler.startDocument(null);
                handler.bytes(text, 0, text.length);
                handler.endDocument();
            }
        }
    }

    private static void firstProblem(TokenizeStats stats, String problem) {
        if (stats.firstJsonProblem == null) {
            stats.firstJsonProblem = problem;
        }
    }

    /** Gives each document of a file the key {@code relativePath#ordinal}. */
    private static final class CountingHandler implements DocumentHandler, DocumentReader.DocumentSink {
        private final String file;
        private final DocumentHandler target;
        private long ordinal;

        CountingHandler(String file, DocumentHandler target) {
            this.file = file;
            this.target = target;
        }

        @Override
        public void startDocument(String ignored) {
            target.startDocument(file + "#" + ordinal++);
        }

        @Override
        public void startDocument() {
            startDocument(null);
        }

        @Override
        public void bytes(byte[] data, int offset, int length) {
            target.bytes(data, offset, length);
        }

        @Override
        public void endDocument() {
            target.endDocument();
        }
    }
}

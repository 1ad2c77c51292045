package dev.mtpspark.spark.tokenize;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.example.data.simple.SimpleGroupFactory;
import org.apache.parquet.hadoop.ParquetFileWriter;
import org.apache.parquet.hadoop.ParquetWriter;
import org.apache.parquet.hadoop.example.ExampleParquetWriter;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.MessageTypeParser;

import java.io.Closeable;
import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * Writes one task's windows of one split as a Parquet shard {@code split=<name>/part-<task>.parquet}, with a
 * single column {@code tokens: array<int>} (Spark reads the directory with {@code split} as a partition
 * column). Windows go to disk as they are produced, so memory stays bounded. The shard is written under an
 * attempt name and renamed when complete, so a retried or speculative task never leaves half a file.
 */
final class WindowShardWriter implements Closeable {
    static final MessageType SCHEMA = MessageTypeParser.parseMessageType("message window { repeated int32 tokens; }");

    /** Row groups are buffered in memory until full; 32 MiB keeps a task well inside a 1 GiB executor heap. */
    static final long ROW_GROUP_BYTES = 32L << 20;

    private final Path finalPath;
    private final Path attemptPath;
    private final Configuration conf;
    private final SimpleGroupFactory groups = new SimpleGroupFactory(SCHEMA);
    private ParquetWriter<Group> writer;

    WindowShardWriter(Path datasetDir, String split, int task, long attempt, Configuration conf) {
        Path dir = new Path(datasetDir, "split=" + split);
        this.finalPath = new Path(dir, String.format("part-%05d.parquet", task));
        this.attemptPath = new Path(dir, String.format(".part-%05d.attempt-%d", task, attempt));
        this.conf = conf;
    }

    void write(int[] window) {
        try {
            if (writer == null) {
                writer = ExampleParquetWriter.builder(attemptPath).withConf(conf).withType(SCHEMA)
                        .withCompressionCodec(CompressionCodecName.SNAPPY)
                        .withRowGroupSize(ROW_GROUP_BYTES)
                        .withWriteMode(ParquetFileWriter.Mode.OVERWRITE).build();
            }
            Group g = groups.newGroup();
            for (int token : window) {
                g.append("tokens", token);
            }
            writer.write(g);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + attemptPath + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void close() throws IOException {
        if (writer == null) {
            return;
        }
        writer.close();
        FileSystem fs = finalPath.getFileSystem(conf);
        fs.delete(new Path(attemptPath.getParent(), "." + attemptPath.getName() + ".crc"), false);
        if (!fs.rename(attemptPath, finalPath)) {
            fs.delete(attemptPath, false);         // another attempt of this task already committed its shard
        }
    }
}

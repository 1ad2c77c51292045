package dev.mtpspark.spark.tokenize;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.parquet.hadoop.ParquetFileWriter;
import org.apache.parquet.hadoop.ParquetWriter;
import org.apache.parquet.hadoop.api.WriteSupport;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;
import org.apache.parquet.io.api.RecordConsumer;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.MessageTypeParser;

import java.io.Closeable;
import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * Writes one task's windows of one split as Parquet shards {@code split=<name>/part-<task>[-<k>].parquet} of about
 * {@link #SHARD_BYTES} each, with a
 * single column {@code tokens: array<int>} (Spark reads the directory with {@code split} as a partition
 * column). Windows go to disk as they are produced, so memory stays bounded. The shard is written under an
 * attempt name and renamed when complete, so a retried or speculative task never leaves half a file. Windows go
 * straight to Parquet's record consumer (one {@code addInteger} per token), not through the example {@code Group}
 * objects, which cost an object and a field lookup per token. The ids are written with Parquet 2's delta binary
 * packing instead of a dictionary: the dictionary's hash lookup per value was half of the job's time, for files
 * about 10 % smaller (docs/data.md).
 */
final class WindowShardWriter implements Closeable {
    static final MessageType SCHEMA = MessageTypeParser.parseMessageType("message window { repeated int32 tokens; }");

    /** Row groups are buffered in memory until full; 32 MiB keeps a task well inside a 1 GiB executor heap. */
    static final long ROW_GROUP_BYTES = 32L << 20;

    /** A shard is closed and the next one started once this many bytes are written (the last may be smaller). */
    static final long SHARD_BYTES = 256L << 20;

    private final Path dir;
    private final int task;
    private final long attempt;
    private final Configuration conf;
    private final long shardBytes;
    private int shard;
    private Path finalPath;
    private Path attemptPath;
    private ParquetWriter<int[]> writer;

    WindowShardWriter(Path datasetDir, String split, int task, long attempt, Configuration conf) {
        this(datasetDir, split, task, attempt, conf, SHARD_BYTES);
    }

    /** With the shard size at which a new shard starts ({@code part-<task>.parquet}, then {@code part-<task>-1.parquet}, …). */
    WindowShardWriter(Path datasetDir, String split, int task, long attempt, Configuration conf, long shardBytes) {
        this.dir = new Path(datasetDir, "split=" + split);
        this.task = task;
        this.attempt = attempt;
        this.conf = conf;
        this.shardBytes = shardBytes;
    }

    void write(int[] window) {
        try {
            if (writer != null && writer.getDataSize() >= shardBytes) {
                commit();
                shard++;
            }
            if (writer == null) {
                String name = shard == 0 ? String.format("part-%05d", task) : String.format("part-%05d-%d", task, shard);
                finalPath = new Path(dir, name + ".parquet");
                attemptPath = new Path(dir, "." + name + ".attempt-" + attempt);
                writer = new Builder(attemptPath).withConf(conf)
                        .withCompressionCodec(CompressionCodecName.SNAPPY)
                        .withWriterVersion(org.apache.parquet.column.ParquetProperties.WriterVersion.PARQUET_2_0)
                        .withDictionaryEncoding(false)
                        .withRowGroupSize(ROW_GROUP_BYTES)
                        .withWriteMode(ParquetFileWriter.Mode.OVERWRITE).build();
            }
            writer.write(window);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + attemptPath + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void close() throws IOException {
        commit();
    }

    /** Closes the current shard and renames it into place. */
    private void commit() throws IOException {
        if (writer == null) {
            return;
        }
        writer.close();
        writer = null;
        FileSystem fs = finalPath.getFileSystem(conf);
        fs.delete(new Path(attemptPath.getParent(), "." + attemptPath.getName() + ".crc"), false);
        if (!fs.rename(attemptPath, finalPath)) {
            fs.delete(attemptPath, false);         // another attempt of this task already committed its shard
        }
    }

    /** A window as one record: its ids as the repeated {@code tokens} field. */
    private static final class WindowWriteSupport extends WriteSupport<int[]> {
        private RecordConsumer consumer;

        @Override
        public WriteContext init(Configuration configuration) {
            return new WriteContext(SCHEMA, java.util.Map.of());
        }

        @Override
        public void prepareForWrite(RecordConsumer recordConsumer) {
            this.consumer = recordConsumer;
        }

        @Override
        public void write(int[] window) {
            consumer.startMessage();
            if (window.length > 0) {
                consumer.startField("tokens", 0);
                for (int token : window) {
                    consumer.addInteger(token);
                }
                consumer.endField("tokens", 0);
            }
            consumer.endMessage();
        }
    }

    private static final class Builder extends ParquetWriter.Builder<int[], Builder> {
        Builder(Path path) {
            super(path);
        }

        @Override
        protected Builder self() {
            return this;
        }

        @Override
        protected WriteSupport<int[]> getWriteSupport(Configuration conf) {
            return new WindowWriteSupport();
        }
    }
}

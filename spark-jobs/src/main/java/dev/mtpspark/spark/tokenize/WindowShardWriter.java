package dev.mtpspark.spark.tokenize;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.parquet.bytes.ByteBufferAllocator;
import org.apache.parquet.column.ColumnDescriptor;
import org.apache.parquet.column.Encoding;
import org.apache.parquet.column.ParquetProperties;
import org.apache.parquet.column.page.PageWriter;
import org.apache.parquet.column.statistics.Statistics;
import org.apache.parquet.column.values.delta.DeltaBinaryPackingValuesWriterForInteger;
import org.apache.parquet.hadoop.CodecFactory;
import org.apache.parquet.hadoop.ColumnChunkPageWriteStore;
import org.apache.parquet.hadoop.ParquetFileWriter;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;
import org.apache.parquet.hadoop.util.HadoopOutputFile;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.MessageTypeParser;

import java.io.Closeable;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Map;

/**
 * Writes one task's windows of one split as Parquet shards {@code split=<name>/part-<task>[-<k>].parquet} of about
 * {@link #SHARD_BYTES} each, with a single column {@code tokens: array<int>} (Spark reads the directory with
 * {@code split} as a partition column). Windows go to disk as they are produced, so memory stays bounded. The shard is
 * written under an attempt name and renamed when complete, so a retried or speculative task never leaves half a file.
 * <p>
 * Writing is the job's inner loop (a value per token), so the ids go straight to Parquet's encoders and page writer:
 * no {@code Group} objects (an object and a field lookup per token), no record consumer (which re-derives the levels
 * of every value from the schema) and no column writer (a call chain and a statistics update per value). They are
 * encoded with Parquet 2's delta binary packing instead of a dictionary, whose hash lookup per value was half of the
 * job's time (docs/data.md).
 */
final class WindowShardWriter implements Closeable {
    static final MessageType SCHEMA = MessageTypeParser.parseMessageType("message window { repeated int32 tokens; }");

    /** Row groups are buffered in memory until full; 32 MiB keeps a task well inside a 1 GiB executor heap. */
    static final long ROW_GROUP_BYTES = 32L << 20;

    /** A shard is closed and the next one started once this many bytes are written (the last may be smaller). */
    static final long SHARD_BYTES = 256L << 20;

    private static final ParquetProperties PROPERTIES = ParquetProperties.builder()
            .withWriterVersion(ParquetProperties.WriterVersion.PARQUET_2_0)
            .withDictionaryEncoding(false)
            .build();

    private final Path dir;
    private final int task;
    private final long attempt;
    private final Configuration conf;
    private final long shardBytes;
    private final long rowGroupBytes;
    private int shard;
    private Path finalPath;
    private Path attemptPath;
    private ShardFile file;

    WindowShardWriter(Path datasetDir, String split, int task, long attempt, Configuration conf) {
        this(datasetDir, split, task, attempt, conf, SHARD_BYTES, ROW_GROUP_BYTES);
    }

    /**
     * With the shard size at which a new shard starts ({@code part-<task>.parquet}, then {@code part-<task>-1.parquet},
     * …) and the row group size.
     */
    WindowShardWriter(Path datasetDir, String split, int task, long attempt, Configuration conf, long shardBytes,
                      long rowGroupBytes) {
        this.dir = new Path(datasetDir, "split=" + split);
        this.task = task;
        this.attempt = attempt;
        this.conf = conf;
        this.shardBytes = shardBytes;
        this.rowGroupBytes = rowGroupBytes;
    }

    void write(int[] window) {
        try {
            if (file != null && file.size() >= shardBytes) {
                commit();
                shard++;
            }
            if (file == null) {
                String name = shard == 0 ? String.format("part-%05d", task) : String.format("part-%05d-%d", task, shard);
                finalPath = new Path(dir, name + ".parquet");
                attemptPath = new Path(dir, "." + name + ".attempt-" + attempt);
                file = new ShardFile(attemptPath, conf, rowGroupBytes);
            }
            file.write(window);
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
        if (file == null) {
            return;
        }
        file.close();
        file = null;
        FileSystem fs = finalPath.getFileSystem(conf);
        fs.delete(new Path(attemptPath.getParent(), "." + attemptPath.getName() + ".crc"), false);
        if (!fs.rename(attemptPath, finalPath)) {
            fs.delete(attemptPath, false);         // another attempt of this task already committed its shard
        }
    }

    /**
     * One Parquet file being written, page by page: each window's levels go to the page as two RLE runs
     * ({@link LevelRuns}) and its ids straight to Parquet's delta encoder, and a full page goes to the column chunk's
     * page writer, as Parquet's column writer would write it (data page v2, RLE levels, delta-packed ids, Snappy),
     * without the column writer's call chain and statistics update per value (docs/data.md). A window is one record:
     * its first id starts the list (repetition level 0), the rest continue it (level 1); every id is defined (level
     * 1). An empty window is an empty list (a null at definition level 0). A page ends at Parquet's page size (or an eighth of the row group, for small row
     * groups) or row count limit; row groups are flushed to the file when their pages reach the row group size.
     */
    private static final class ShardFile implements Closeable {
        private static final int ENCODER_SLAB = 64 * 1024;
        private static final int ENCODER_PAGE = 4 << 20;

        private final ParquetFileWriter out;
        private final CodecFactory codecs;
        private final CodecFactory.BytesCompressor compressor;
        private final ColumnDescriptor column = SCHEMA.getColumns().get(0);
        private final LevelRuns repetition = new LevelRuns();
        private final LevelRuns definition = new LevelRuns();
        private final DeltaBinaryPackingValuesWriterForInteger ids;
        private final long rowGroupBytes;
        private final long pageBytes;
        private ColumnChunkPageWriteStore pages;
        private PageWriter pageWriter;
        private long records;
        private int pageRows;
        private int pageEntries;       // ids plus empty windows: the page's level count
        private int pageNulls;         // empty windows
        private int min = Integer.MAX_VALUE;
        private int max = Integer.MIN_VALUE;

        ShardFile(Path path, Configuration conf, long rowGroupBytes) throws IOException {
            this.rowGroupBytes = rowGroupBytes;
            this.pageBytes = Math.max(1, Math.min(PROPERTIES.getPageSizeThreshold(), rowGroupBytes / 8));
            out = new ParquetFileWriter(HadoopOutputFile.fromPath(path, conf), SCHEMA, ParquetFileWriter.Mode.OVERWRITE,
                    rowGroupBytes, 0, PROPERTIES.getColumnIndexTruncateLength(),
                    PROPERTIES.getStatisticsTruncateLength(), PROPERTIES.getPageWriteChecksumEnabled());
            out.start();
            codecs = new CodecFactory(conf, PROPERTIES.getPageSizeThreshold());
            compressor = codecs.getCompressor(CompressionCodecName.SNAPPY);
            ByteBufferAllocator allocator = PROPERTIES.getAllocator();
            ids = new DeltaBinaryPackingValuesWriterForInteger(ENCODER_SLAB, ENCODER_PAGE, allocator);
        }

        void write(int[] window) throws IOException {
            if (pages == null) {
                pages = new ColumnChunkPageWriteStore(compressor, SCHEMA, PROPERTIES.getAllocator(),
                        PROPERTIES.getColumnIndexTruncateLength(), PROPERTIES.getPageWriteChecksumEnabled());
                pageWriter = pages.getPageWriter(column);
            }
            repetition.append(0, 1);
            if (window.length == 0) {
                definition.append(0, 1);
                pageNulls++;
                pageEntries++;
            } else {
                repetition.append(1, window.length - 1);
                definition.append(1, window.length);
                int lo = min;
                int hi = max;
                for (int id : window) {
                    ids.writeInteger(id);
                    lo = Math.min(lo, id);
                    hi = Math.max(hi, id);
                }
                min = lo;
                max = hi;
                pageEntries += window.length;
            }
            pageRows++;
            records++;
            if (pageRows >= PROPERTIES.getPageRowCountLimit()
                    || ids.getBufferedSize() + repetition.bufferedSize() + definition.bufferedSize() >= pageBytes) {
                flushPage();
                if (pageWriter.getMemSize() >= rowGroupBytes) {
                    flushRowGroup();
                }
            }
        }

        /** Bytes in the file so far plus the row group in memory (its written pages and the page being filled). */
        long size() throws IOException {
            return out.getPos() + (pages == null ? 0 : pageWriter.getMemSize() + ids.getBufferedSize());
        }

        private void flushPage() throws IOException {
            if (pageRows == 0) {
                return;
            }
            Statistics<?> statistics = Statistics.createStats(column.getPrimitiveType());
            if (pageEntries > pageNulls) {
                statistics.updateStats(min);
                statistics.updateStats(max);
            }
            statistics.incrementNumNulls(pageNulls);
            pageWriter.writePageV2(pageRows, pageNulls, pageEntries, repetition.toBytes(), definition.toBytes(),
                    Encoding.DELTA_BINARY_PACKED, ids.getBytes(), statistics);
            repetition.reset();
            definition.reset();
            ids.reset();
            pageRows = 0;
            pageEntries = 0;
            pageNulls = 0;
            min = Integer.MAX_VALUE;
            max = Integer.MIN_VALUE;
        }

        private void flushRowGroup() throws IOException {
            flushPage();
            if (records > 0) {
                out.startBlock(records);
                pages.flushToFileWriter(out);
                out.endBlock();
            }
            pages = null;
            pageWriter = null;
            records = 0;
        }

        @Override
        public void close() throws IOException {
            try {
                if (pages != null) {
                    flushRowGroup();
                }
                out.end(Map.of());
            } finally {
                ids.close();
                codecs.release();
            }
        }
    }
}

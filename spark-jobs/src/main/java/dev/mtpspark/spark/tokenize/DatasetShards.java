package dev.mtpspark.spark.tokenize;

import org.apache.hadoop.fs.FileChecksum;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocatedFileStatus;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RemoteIterator;
import org.apache.hadoop.util.StringUtils;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The Parquet shards of a dataset as its manifest records them (relative path, bytes, and the file system's own
 * checksum where it keeps one, as HDFS does; the local file system keeps none), and the check {@code train} runs
 * before it starts: every recorded shard present with its size (and checksum), and no shard the manifest does not
 * know. A damaged dataset fails with one line naming the shard instead of a stack trace from inside a task.
 */
public final class DatasetShards {
    private DatasetShards() {
    }

    /** The manifest entries of every {@code .parquet} file under {@code dir}, sorted by path. */
    static List<Map<String, Object>> describe(FileSystem fs, Path dir) throws IOException {
        List<Map<String, Object>> out = new ArrayList<>();
        for (Map.Entry<String, FileStatus> e : list(fs, dir).entrySet()) {
            Map<String, Object> s = new LinkedHashMap<>();
            s.put("path", e.getKey());
            s.put("bytes", e.getValue().getLen());
            FileChecksum c = fs.getFileChecksum(e.getValue().getPath());
            if (c != null) {
                s.put("checksum", c.getAlgorithmName() + ":" + StringUtils.byteToHexString(c.getBytes()));
            }
            out.add(s);
        }
        return out;
    }

    /**
     * Checks the shards of {@code dataset} against {@code recorded} (the manifest's {@code shards}); returns the
     * number checked, or throws a {@link BadInputException} naming the first damaged, missing or unknown shard.
     */
    public static int check(FileSystem fs, Path dataset, com.fasterxml.jackson.databind.JsonNode recorded) throws IOException {
        Map<String, FileStatus> present = list(fs, dataset);
        String rerun = "; re-run tokenize to rebuild data.dataset = " + dataset;
        for (com.fasterxml.jackson.databind.JsonNode s : recorded) {
            String path = s.path("path").asText();
            FileStatus f = present.remove(path);
            if (f == null) {
                throw new BadInputException("dataset shard " + path + " is missing" + rerun);
            }
            long bytes = s.path("bytes").asLong(-1);
            if (f.getLen() != bytes) {
                throw new BadInputException("dataset shard " + path + " is " + f.getLen() + " bytes, the manifest says "
                        + bytes + " (damaged or replaced)" + rerun);
            }
            if (s.hasNonNull("checksum")) {
                FileChecksum c = fs.getFileChecksum(f.getPath());
                String now = c == null ? null : c.getAlgorithmName() + ":" + StringUtils.byteToHexString(c.getBytes());
                if (now != null && !now.equals(s.get("checksum").asText())) {
                    throw new BadInputException("dataset shard " + path + " has checksum " + now + ", the manifest says "
                            + s.get("checksum").asText() + " (damaged)" + rerun);
                }
            }
        }
        if (!present.isEmpty()) {
            throw new BadInputException("dataset shard " + present.keySet().iterator().next()
                    + " is not in the manifest (a stray file would be read as training data)" + rerun);
        }
        return recorded.size();
    }

    private static Map<String, FileStatus> list(FileSystem fs, Path dir) throws IOException {
        Map<String, FileStatus> out = new TreeMap<>();
        String root = fs.makeQualified(dir).toUri().getPath();
        RemoteIterator<LocatedFileStatus> it = fs.listFiles(dir, true);
        while (it.hasNext()) {
            LocatedFileStatus f = it.next();
            if (f.isFile() && f.getPath().getName().endsWith(".parquet")) {
                String full = f.getPath().toUri().getPath();
                out.put(full.substring(root.length() + (root.endsWith("/") ? 0 : 1)), f);
            }
        }
        return out;
    }
}

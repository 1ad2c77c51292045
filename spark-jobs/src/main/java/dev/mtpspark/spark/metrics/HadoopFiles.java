package dev.mtpspark.spark.metrics;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileAlreadyExistsException;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocalFileSystem;
import org.apache.hadoop.fs.Path;

import java.io.IOException;

/** Whole-file writes through the Hadoop FileSystem API that readers never see half-written. */
public final class HadoopFiles {
    private HadoopFiles() {
    }

    /**
     * The file system of {@code path}; for local paths the raw one. Hadoop's checksummed local FS would litter the
     * run directory with {@code .crc} files and refuse to read a metrics file that was edited by hand or by another
     * tool ("Checksum error"); these small text and image files do not need that protection.
     */
    static FileSystem fileSystem(Path path, Configuration conf) throws IOException {
        FileSystem fs = path.getFileSystem(conf);
        return fs instanceof LocalFileSystem local ? local.getRawFileSystem() : fs;
    }

    /**
     * Writes {@code bytes} to {@code name.tmp} beside {@code target}, then renames it over {@code target}.
     *
     * <p>Object stores such as S3 have no append, so callers rewrite whole files. HDFS, S3A and Hadoop's
     * checksummed local FS refuse to rename onto an existing file (returning false or throwing
     * {@link FileAlreadyExistsException}); then the old file is deleted first and the rename retried, which leaves
     * a brief window without the file but never a partial one.
     */
    public static void writeAtomically(FileSystem fs, Path target, byte[] bytes) throws IOException {
        Path tmp = new Path(target.getParent(), target.getName() + ".tmp");
        try (FSDataOutputStream out = fs.create(tmp, true)) {
            out.write(bytes);
        }
        if (renameQuietly(fs, tmp, target)) {
            return;
        }
        if (fs.exists(target) && fs.delete(target, false) && renameQuietly(fs, tmp, target)) {
            return;
        }
        fs.delete(tmp, false);
        throw new IOException("cannot rename " + tmp + " to " + target);
    }

    private static boolean renameQuietly(FileSystem fs, Path from, Path to) throws IOException {
        try {
            return fs.rename(from, to);
        } catch (FileAlreadyExistsException e) {
            return false;
        }
    }
}

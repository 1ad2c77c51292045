package dev.mtpspark.spark.tokenize;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;

/**
 * Resolves the job's inputs — files, directories (recursively) and globs on any Hadoop file system — into
 * a sorted list of files. Hidden files ({@code _*}, {@code .*}, as Spark skips them) are ignored.
 */
final class CorpusFiles {
    private CorpusFiles() {
    }

    static List<SourceFile> resolve(List<String> inputs, Configuration conf) throws IOException {
        TreeMap<String, Long> files = new TreeMap<>();
        for (String input : inputs) {
            Path pattern = new Path(input);
            FileSystem fs = pattern.getFileSystem(conf);
            FileStatus[] matches = fs.globStatus(pattern);
            if (matches == null || matches.length == 0) {
                throw new BadInputException("input path does not exist: " + input
                        + (input.matches(".*[*?\\[{].*") ? " (the glob matches no file)" : ""));
            }
            for (FileStatus status : matches) {
                if (status.isDirectory()) {
                    walk(fs, status.getPath(), files);
                } else {
                    files.put(status.getPath().toString(), status.getLen());
                }
            }
        }
        if (files.isEmpty()) {
            throw new BadInputException("empty corpus: no files under " + String.join(", ", inputs));
        }
        String parent = commonParent(new ArrayList<>(files.keySet()));
        List<SourceFile> out = new ArrayList<>();
        files.forEach((path, size) -> out.add(new SourceFile(path, path.substring(parent.length()), size)));
        return out;
    }

    /**
     * Every visible file below {@code dir} ({@code _*} and {@code .*} skipped, as Spark does), by plain directory
     * listings: {@code listFiles} builds a {@code LocatedFileStatus} per file, which on the local file system without
     * Hadoop's native library forks an {@code ls} per file for its permissions (73 s for 15,143 files here).
     */
    private static void walk(FileSystem fs, Path dir, TreeMap<String, Long> files) throws IOException {
        java.util.ArrayDeque<Path> pending = new java.util.ArrayDeque<>();
        pending.add(dir);
        while (!pending.isEmpty()) {
            for (FileStatus f : fs.listStatus(pending.poll())) {
                String name = f.getPath().getName();
                if (name.startsWith("_") || name.startsWith(".")) {
                    continue;
                }
                if (f.isDirectory()) {
                    pending.add(f.getPath());
                } else {
                    files.put(f.getPath().toString(), f.getLen());
                }
            }
        }
    }

    /** The longest common directory prefix, ending with '/'. */
    private static String commonParent(List<String> paths) {
        String first = paths.get(0);
        int end = first.lastIndexOf('/') + 1;
        for (String p : paths) {
            int i = 0;
            while (i < end && i < p.length() && p.charAt(i) == first.charAt(i)) {
                i++;
            }
            end = first.lastIndexOf('/', i - 1) + 1;
        }
        return first.substring(0, end);
    }
}

package dev.mtpspark.spark.tokenize;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocatedFileStatus;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RemoteIterator;

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
                    RemoteIterator<LocatedFileStatus> it = fs.listFiles(status.getPath(), true);
                    while (it.hasNext()) {
                        LocatedFileStatus f = it.next();
                        if (!hidden(status.getPath(), f.getPath())) {
                            files.put(f.getPath().toString(), f.getLen());
                        }
                    }
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

    private static boolean hidden(Path root, Path file) {
        for (Path p = file; p != null && !p.equals(root); p = p.getParent()) {
            if (p.getName().startsWith("_") || p.getName().startsWith(".")) {
                return true;
            }
        }
        return false;
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

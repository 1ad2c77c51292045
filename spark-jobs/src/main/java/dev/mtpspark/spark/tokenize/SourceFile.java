package dev.mtpspark.spark.tokenize;

import java.io.Serializable;

/**
 * One input file.
 *
 * @param path         fully qualified path
 * @param relativePath path below the common parent directory of all inputs; documents are keyed by it, so
 *                     moving the whole corpus keeps the document-hash split
 * @param size         bytes on the file system (compressed size for compressed files)
 */
public record SourceFile(String path, String relativePath, long size) implements Serializable {
}

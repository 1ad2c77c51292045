package dev.mtpspark.spark.tokenize;

import java.io.Serializable;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * Counts of one tokenize pass, merged across tasks: per split, and every skip or repair of bad input, so
 * that the job's summary accounts for every document.
 */
public final class TokenizeStats implements Serializable {
    public static final int TRAIN = 0;
    public static final int VALIDATION = 1;
    public static final String[] SPLITS = {"train", "validation"};

    final long[] documents = new long[2];
    final long[] tokens = new long[2];
    final long[] windows = new long[2];
    final long[] tailTokens = new long[2];
    long filesRead;
    long bytesRead;
    long replacedUtf8Sequences;
    long unknownCharacters;
    long jsonMalformedLines;
    long jsonMissingField;
    long jsonNonStringField;
    long nullValues;
    String firstJsonProblem;
    final TreeMap<String, String> checksums = new TreeMap<>();

    public TokenizeStats merge(TokenizeStats o) {
        for (int s = 0; s < 2; s++) {
            documents[s] += o.documents[s];
            tokens[s] += o.tokens[s];
            windows[s] += o.windows[s];
            tailTokens[s] += o.tailTokens[s];
        }
        filesRead += o.filesRead;
        bytesRead += o.bytesRead;
        replacedUtf8Sequences += o.replacedUtf8Sequences;
        unknownCharacters += o.unknownCharacters;
        jsonMalformedLines += o.jsonMalformedLines;
        jsonMissingField += o.jsonMissingField;
        jsonNonStringField += o.jsonNonStringField;
        nullValues += o.nullValues;
        if (firstJsonProblem == null || (o.firstJsonProblem != null && o.firstJsonProblem.compareTo(firstJsonProblem) < 0)) {
            firstJsonProblem = o.firstJsonProblem == null ? firstJsonProblem : o.firstJsonProblem;
        }
        checksums.putAll(o.checksums);
        return this;
    }

    public long documents(int split) { return documents[split]; }
    public long tokens(int split) { return tokens[split]; }
    public long windows(int split) { return windows[split]; }
    public long tailTokens(int split) { return tailTokens[split]; }
    public long totalDocuments() { return documents[0] + documents[1]; }
    public long totalTokens() { return tokens[0] + tokens[1]; }

    /** The skip and repair counters, for the manifest and the summary. */
    public Map<String, Object> problems() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("replacedInvalidUtf8Sequences", replacedUtf8Sequences);
        m.put("droppedUnknownCharacters", unknownCharacters);
        m.put("jsonMalformedLines", jsonMalformedLines);
        m.put("jsonMissingField", jsonMissingField);
        m.put("jsonNonStringField", jsonNonStringField);
        m.put("nullValues", nullValues);
        m.put("firstJsonProblem", firstJsonProblem);
        return m;
    }
}

package dev.mtpspark.spark.metrics;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mtpspark.spark.tokenize.BadInputException;

import java.util.Collection;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * One {@link MetricsRow} as a JSON-lines object or a CSV line, and back from JSON, in the layout that
 * {@link MetricsLog} documents (non-finite values included); {@link MetricsLog} owns the files.
 */
final class MetricsRowFormat {
    private static final ObjectMapper JSON = new ObjectMapper();

    private MetricsRowFormat() {
    }

    static String toJson(MetricsRow row) {
        ObjectNode o = JSON.createObjectNode();
        o.put("split", row.split());
        o.put("step", row.step());
        o.put("tokens_seen", row.tokensSeen());
        putDouble(o, "lr", row.learningRate());
        putDouble(o, "tokens_per_s", row.tokensPerSecond());
        putDouble(o, "elapsed_s", row.elapsedSeconds());
        putDouble(o, "loss/total", row.totalLoss());
        double[] loss = row.loss();
        double[] acc = row.accuracy();
        double[] top5 = row.top5();
        double[] ppl = row.perplexity();
        long[] tokens = row.tokens();
        for (int k = 1; k <= row.horizons(); k++) {
            putDouble(o, "loss/h" + k, loss[k - 1]);
            putDouble(o, "acc/h" + k, acc[k - 1]);
            putDouble(o, "top5/h" + k, top5[k - 1]);
            putDouble(o, "ppl/h" + k, ppl[k - 1]);
            o.put("tokens/h" + k, tokens[k - 1]);
        }
        row.taskScores().forEach((name, v) -> putDouble(o, name, v));
        try {
            return JSON.writeValueAsString(o);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialize " + row, e);  // cannot happen for a tree of scalars
        }
    }

    private static void putDouble(ObjectNode o, String key, double v) {
        if (Double.isNaN(v)) {
            o.putNull(key);
        } else if (Double.isInfinite(v)) {
            o.put(key, v > 0 ? "Infinity" : "-Infinity");
        } else {
            o.put(key, v);
        }
    }

    static String toCsv(MetricsRow row) {
        return toCsv(row, row.taskScores().keySet());
    }

    static String toCsv(MetricsRow row, Collection<String> taskNames) {
        StringBuilder sb = new StringBuilder(row.split()).append(',').append(row.step()).append(',')
                .append(row.tokensSeen()).append(',').append(row.learningRate()).append(',')
                .append(row.tokensPerSecond()).append(',').append(row.elapsedSeconds()).append(',')
                .append(row.totalLoss());
        double[] loss = row.loss();
        double[] acc = row.accuracy();
        double[] top5 = row.top5();
        double[] ppl = row.perplexity();
        long[] tokens = row.tokens();
        for (int k = 0; k < row.horizons(); k++) {
            // Double.toString: shortest exact form; NaN and ±Infinity come out as NaN, Infinity, -Infinity.
            sb.append(',').append(loss[k]).append(',').append(acc[k]).append(',').append(top5[k]).append(',')
                    .append(ppl[k]).append(',').append(tokens[k]);
        }
        for (String name : taskNames) {
            sb.append(',').append(row.taskScores().getOrDefault(name, Double.NaN));
        }
        return sb.toString();
    }

    static MetricsRow toRow(JsonNode o, int n, String where) {
        JsonNode split = o.get("split");
        if (split == null || !split.isTextual()
                || !(MetricsRow.TRAIN.equals(split.asText()) || MetricsRow.VALIDATION.equals(split.asText()))) {
            throw new BadInputException(where + ": \"split\" must be \"" + MetricsRow.TRAIN + "\" or \""
                    + MetricsRow.VALIDATION + "\", got " + split);
        }
        double[] loss = new double[n];
        double[] acc = new double[n];
        double[] top5 = new double[n];
        double[] ppl = new double[n];
        long[] tokens = new long[n];
        for (int k = 1; k <= n; k++) {
            loss[k - 1] = doubleField(o, "loss/h" + k, where);
            acc[k - 1] = doubleField(o, "acc/h" + k, where);
            top5[k - 1] = doubleField(o, "top5/h" + k, where);
            ppl[k - 1] = doubleField(o, "ppl/h" + k, where);
            tokens[k - 1] = longField(o, "tokens/h" + k, where);
        }
        Map<String, Double> taskScores = new LinkedHashMap<>();
        for (Iterator<String> names = o.fieldNames(); names.hasNext(); ) {
            String name = names.next();
            if (name.startsWith(MetricsRow.TASK_PREFIX)) {
                taskScores.put(name, doubleField(o, name, where));
            }
        }
        return new MetricsRow(split.asText(), longField(o, "step", where), longField(o, "tokens_seen", where),
                doubleField(o, "lr", where), doubleField(o, "tokens_per_s", where), doubleField(o, "elapsed_s", where),
                doubleField(o, "loss/total", where), loss, acc, top5, ppl, tokens, taskScores);
    }

    private static double doubleField(JsonNode o, String key, String where) {
        JsonNode v = o.get(key);
        if (v == null) {
            throw new BadInputException(where + ": \"" + key + "\" is missing");
        }
        if (v.isNull()) {
            return Double.NaN;
        }
        if (v.isNumber()) {
            return v.doubleValue();
        }
        if (v.isTextual()) {
            switch (v.asText().toLowerCase(Locale.ROOT)) {
                case "nan":
                    return Double.NaN;
                case "infinity":
                case "+infinity":
                    return Double.POSITIVE_INFINITY;
                case "-infinity":
                    return Double.NEGATIVE_INFINITY;
                default:
                    break;
            }
        }
        throw new BadInputException(where + ": \"" + key + "\" must be a number, null, \"NaN\", \"Infinity\" or "
                + "\"-Infinity\", got " + v);
    }

    private static long longField(JsonNode o, String key, String where) {
        JsonNode v = o.get(key);
        if (v == null) {
            throw new BadInputException(where + ": \"" + key + "\" is missing");
        }
        if (!v.isIntegralNumber() || !v.canConvertToLong()) {
            throw new BadInputException(where + ": \"" + key + "\" must be an integer, got " + v);
        }
        return v.longValue();
    }
}

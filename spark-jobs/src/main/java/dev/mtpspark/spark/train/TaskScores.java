package dev.mtpspark.spark.train;

import dev.mtpspark.core.data.Tokenizer;
import dev.mtpspark.core.model.MtpModel;
import dev.mtpspark.core.tasks.InductionTask;
import dev.mtpspark.core.tasks.PolynomialTask;
import dev.mtpspark.spark.tokenize.BadInputException;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * The synthetic tasks' scores of a model (issue 20), measured on the driver on held-out examples drawn from a seed
 * other than the training corpus's: induction's copy accuracy, and polynomial arithmetic's greedy exact match per
 * number of operations, for the trained numbers and two more. Metric names are those of metrics.jsonl and
 * evaluation.json.
 */
public final class TaskScores {
    /** The task names: {@code none} scores nothing. */
    public static final java.util.List<String> TASKS = java.util.List.of("none", "induction", "polynomial");

    /** What to score; parsed from {@code --task} / {@code evaluation.task}. */
    public record Spec(String task, int examples, long seed, int minOps, int maxOps, int maxChars) {
        public Spec {
            if (!TASKS.contains(task)) {
                throw new BadInputException("task = " + task + " is invalid: valid values are " + String.join(", ", TASKS));
            }
            if (examples < 1) {
                throw new BadInputException("task examples = " + examples + " is invalid: must be ≥ 1");
            }
            if (minOps < 1 || maxOps < minOps) {
                throw new BadInputException("task ops = " + minOps + "-" + maxOps + " is invalid: must be min-max with 1 ≤ min ≤ max");
            }
        }

        /** This spec with another number of held-out examples. */
        public Spec withExamples(int count) {
            return new Spec(task, count, seed, minOps, maxOps, maxChars);
        }

        /** Parses {@code "1-3"} (or {@code "2"}: from 2 to 2). */
        public static int[] ops(String range) {
            String[] parts = range == null ? new String[] {""} : range.split("-", 2);
            try {
                return new int[] {Integer.parseInt(parts[0].trim()), Integer.parseInt(parts[parts.length - 1].trim())};
            } catch (NumberFormatException e) {
                throw new BadInputException("task ops = " + range + " is invalid: write the trained numbers of operations as min-max, e.g. 1-3");
            }
        }
    }

    private TaskScores() {
    }

    /** The scores as metric name → value; empty for task {@code none}. */
    public static Map<String, Double> score(Spec spec, MtpModel model, Tokenizer tokenizer) {
        Map<String, Double> m = new LinkedHashMap<>();
        try {
            switch (spec.task()) {
                case "induction" -> {
                    int maxChars = Math.min(spec.maxChars(), model.config().contextLength() - 1);
                    InductionTask.Score s = InductionTask.score(model, tokenizer,
                            InductionTask.documents(spec.seed(), spec.examples(), maxChars));
                    m.put("task/induction-copy-acc", s.accuracy());
                    m.put("task/induction-copy-letters", (double) s.total());
                }
                case "polynomial" -> {
                    long[][] c = PolynomialTask.exactMatch(model, tokenizer,
                            PolynomialTask.problems(spec.seed(), spec.examples(), spec.minOps(), spec.maxOps() + 2));
                    long inRight = 0, inTotal = 0, outRight = 0, outTotal = 0;
                    for (int ops = spec.minOps(); ops < c[0].length; ops++) {
                        if (c[1][ops] > 0) {
                            m.put("task/poly-exact/ops" + ops, (double) c[0][ops] / c[1][ops]);
                        }
                        if (ops <= spec.maxOps()) {
                            inRight += c[0][ops];
                            inTotal += c[1][ops];
                        } else {
                            outRight += c[0][ops];
                            outTotal += c[1][ops];
                        }
                    }
                    m.put("task/poly-exact/trained-ops", inTotal == 0 ? Double.NaN : (double) inRight / inTotal);
                    m.put("task/poly-exact/more-ops", outTotal == 0 ? Double.NaN : (double) outRight / outTotal);
                }
                default -> {
                }
            }
        } catch (IllegalArgumentException e) {
            throw new BadInputException("task " + spec.task() + ": " + e.getMessage());
        }
        return m;
    }

    /** The scores as lines for the evaluate command's output. */
    public static String table(Map<String, Double> scores) {
        StringBuilder b = new StringBuilder();
        scores.forEach((k, v) -> b.append(String.format(Locale.ROOT, "  %-32s %.4f%n", k, v)));
        return b.toString();
    }
}

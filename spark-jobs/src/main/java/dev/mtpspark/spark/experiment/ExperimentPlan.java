package dev.mtpspark.spark.experiment;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.mtpspark.spark.tokenize.BadInputException;

import java.io.IOException;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * An experiment: arms (each a list of training-configuration overrides) × seeds, on one base configuration and one
 * corpus, read from YAML (keys in kebab case; {@code benchmarks/experiments/*.yaml}). Validated here, once: every
 * error names its key.
 *
 * @param name     the experiment's name (headings, file names)
 * @param output   directory of the runs, datasets and results (any Hadoop path)
 * @param config   the base training configuration (YAML file)
 * @param seeds    run.seed of each repetition
 * @param set      overrides for every arm, as {@code key=value}
 * @param tokenize the tokenize options for the corpus (without --context-length, --predicted-tokens, --output:
 *                 each arm's T and n decide those, and arms with the same T and n share the dataset)
 * @param evaluate evaluate options for the final checkpoint: {@code max-windows}, {@code task}, {@code task-examples},
 *                 {@code task-seed}, {@code task-ops}, {@code task-max-chars}
 * @param arms     the arms, in table order
 */
public record ExperimentPlan(String name, String output, String config, List<Long> seeds, List<String> set,
                             List<String> tokenize, Map<String, String> evaluate, List<Arm> arms) {

    /** One arm: its name and its overrides (on top of the plan's). */
    public record Arm(String name, String description, List<String> set) {
    }

    public ExperimentPlan {
        set = set == null ? List.of() : List.copyOf(set);
        tokenize = tokenize == null ? List.of() : List.copyOf(tokenize);
        evaluate = evaluate == null ? Map.of() : Map.copyOf(evaluate);
        require(name, "name");
        require(output, "output");
        require(config, "config");
        if (seeds == null || seeds.isEmpty()) {
            throw new BadInputException("seeds: at least one seed is required, e.g. seeds: [1, 2, 3]");
        }
        if (arms == null || arms.isEmpty()) {
            throw new BadInputException("arms: at least one arm is required");
        }
        Set<String> names = new HashSet<>();
        for (int i = 0; i < arms.size(); i++) {
            Arm a = arms.get(i);
            if (a.name() == null || !a.name().matches("[A-Za-z0-9._-]+")) {
                throw new BadInputException("arms[" + i + "].name = " + a.name() + " is invalid: letters, digits, '.', '_' and '-' only");
            }
            if (!names.add(a.name())) {
                throw new BadInputException("arms[" + i + "].name = " + a.name() + " is listed twice");
            }
        }
        for (String key : evaluate.keySet()) {
            if (!List.of("max-windows", "task", "task-examples", "task-seed", "task-ops", "task-max-chars").contains(key)) {
                throw new BadInputException("evaluate." + key + " is unknown; valid keys: max-windows, task, task-examples, "
                        + "task-seed, task-ops, task-max-chars");
            }
        }
        for (String o : tokenize) {
            if (o.equals("--context-length") || o.equals("--predicted-tokens") || o.equals("--output")) {
                throw new BadInputException("tokenize: " + o + " is set per arm (model.context-length, model.predicted-tokens) "
                        + "and by the runner (the dataset directory); leave it out");
            }
        }
        seeds = List.copyOf(seeds);
        arms = List.copyOf(arms);
    }

    private static void require(String value, String key) {
        if (value == null || value.isBlank()) {
            throw new BadInputException(key + " is required in the experiment plan");
        }
    }

    /** Parses a plan; unknown keys and malformed YAML fail naming the file. */
    public static ExperimentPlan parse(String yaml, String source) {
        ObjectMapper m = new ObjectMapper(new YAMLFactory())
                .setPropertyNamingStrategy(PropertyNamingStrategies.KEBAB_CASE)
                .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);
        try {
            return m.readValue(yaml, ExperimentPlan.class);
        } catch (com.fasterxml.jackson.databind.JsonMappingException e) {
            if (e.getCause() instanceof BadInputException bad) {
                throw new BadInputException(source + ": " + bad.getMessage());
            }
            throw new BadInputException(source + ": " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new BadInputException(source + " is not a valid experiment plan: " + e.getMessage());
        }
    }

    public String evaluateOption(String key, String fallback) {
        return evaluate.getOrDefault(key, fallback);
    }
}

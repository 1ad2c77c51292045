package dev.mtpspark.spark.tasks;

import dev.mtpspark.core.tasks.InductionTask;
import dev.mtpspark.core.tasks.PolynomialTask;
import dev.mtpspark.spark.CommandRunner;
import dev.mtpspark.spark.metrics.HadoopFiles;
import dev.mtpspark.spark.tokenize.BadInputException;
import dev.mtpspark.spark.train.TaskScores;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.Callable;

/**
 * {@code task-corpus}: writes a synthetic task's training corpus (issue 20) as one text file that the tokenize job
 * reads: induction stories one per paragraph ({@code --text-mode paragraph}), polynomial problems one per line
 * ({@code --text-mode line}). Deterministic in the seed; the file appears whole or not at all.
 */
@Command(name = "task-corpus", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Write a synthetic task's corpus (induction or polynomial) for the tokenize job.")
public final class TaskCorpusCommand implements Callable<Integer> {
    @Option(names = "--task", required = true, description = "induction or polynomial.")
    String task;

    @Option(names = "--output", required = true, description = "The text file to write (any Hadoop path).")
    String output;

    @Option(names = "--examples", defaultValue = "20000", description = "Stories or problems (default: ${DEFAULT-VALUE}).")
    int examples;

    @Option(names = "--seed", defaultValue = "1", description = "Seed (default: ${DEFAULT-VALUE}); evaluate's --task-seed must differ.")
    long seed;

    @Option(names = "--max-chars", defaultValue = "240", description = "For induction: the longest story, in characters; "
            + "keep it below the model's context length (default: ${DEFAULT-VALUE}).")
    int maxChars;

    @Option(names = "--ops", defaultValue = "1-3", description = "For polynomial: numbers of operations, min-max (default: ${DEFAULT-VALUE}).")
    String ops;

    @Option(names = "--overwrite", description = "Replace an existing output file.")
    boolean overwrite;

    @Override
    public Integer call() throws Exception {
        int[] range = TaskScores.Spec.ops(ops);
        new TaskScores.Spec(task, examples, seed, range[0], range[1], maxChars);     // validates the options
        if (task.equals("none")) {
            throw new BadInputException("--task = none is invalid here: choose induction or polynomial");
        }
        String text;
        try {
            text = task.equals("induction") ? InductionTask.corpus(seed, examples, maxChars)
                    : PolynomialTask.corpus(seed, examples, range[0], range[1]);
        } catch (IllegalArgumentException e) {
            throw new BadInputException("task-corpus: " + e.getMessage());
        }
        Path out = new Path(output);
        FileSystem fs = out.getFileSystem(new Configuration());
        if (fs.exists(out) && !overwrite) {
            throw new BadInputException("--output " + out + " already exists; pass --overwrite to replace it");
        }
        HadoopFiles.writeAtomically(fs, out, text.getBytes(StandardCharsets.UTF_8));
        System.out.printf("task-corpus: %d %s examples (seed %d) in %s, %d characters; tokenize it with --text-mode %s%n",
                examples, task, seed, out, text.length(), task.equals("induction") ? "paragraph" : "line");
        return 0;
    }

    public static void main(String[] args) {
        System.exit(CommandRunner.execute(new TaskCorpusCommand(), args));
    }
}

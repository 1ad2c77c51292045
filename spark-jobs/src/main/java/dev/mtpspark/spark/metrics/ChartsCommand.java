package dev.mtpspark.spark.metrics;

import dev.mtpspark.spark.tokenize.BadInputException;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code java -cp app.jar dev.mtpspark.spark.metrics.ChartsCommand --run <dir>}: renders {@code loss.png},
 * {@code accuracy.png} and {@code report.md} from a run's {@code metrics.jsonl}, for a run in progress or
 * finished. No Spark is started. Exit status 0 on success, 2 when the metrics file is missing or unreadable or an
 * argument is bad (the message names the path), 1 for any other failure.
 */
@Command(name = "charts", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Renders loss.png, accuracy.png and report.md from a training run's metrics.jsonl.")
public final class ChartsCommand implements Callable<Integer> {
    @Option(names = "--run", required = true,
            description = "Run output directory holding metrics.jsonl (file://, hdfs://, s3a:// or a local path).")
    String run;
    @Option(names = "--title", description = "Report title (default: \"Training run <directory name>\").")
    String title;

    @Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        Configuration conf = hadoopConf();
        Path dir = new Path(run);
        FileSystem fs;
        try {
            fs = HadoopFiles.fileSystem(dir, conf);
        } catch (IOException | IllegalArgumentException e) {
            throw new BadInputException("--run " + run + " is not a usable Hadoop path: " + e.getMessage());
        }
        Path file = new Path(dir, MetricsLog.JSONL);
        if (!fs.exists(dir)) {
            throw new BadInputException("--run " + dir + " does not exist");
        }
        List<MetricsRow> rows;
        try {
            rows = MetricsLog.read(dir, conf);
        } catch (FileNotFoundException e) {
            throw new BadInputException("no metrics file " + file + ": is --run a training run's output directory?");
        } catch (IOException e) {
            throw new BadInputException("cannot read metrics file " + file + ": " + e);
        }
        List<Path> written = new ArrayList<>(MetricsCharts.render(rows, dir, conf));
        String heading = title != null ? title : "Training run " + dir.getName();
        written.add(TrainingReport.write(rows, heading, dir, conf));
        spec.commandLine().getOut().printf("charts: %d metrics rows from %s%n", rows.size(), file);
        for (Path p : written) {
            spec.commandLine().getOut().println("  wrote " + p);
        }
        spec.commandLine().getOut().flush();
        return 0;
    }

    /** Hadoop settings from the classpath, plus {@code spark.hadoop.*} system properties as spark-submit passes them. */
    private static Configuration hadoopConf() {
        Configuration conf = new Configuration();
        for (Map.Entry<Object, Object> e : System.getProperties().entrySet()) {
            String key = String.valueOf(e.getKey());
            if (key.startsWith("spark.hadoop.")) {
                conf.set(key.substring("spark.hadoop.".length()), String.valueOf(e.getValue()));
            }
        }
        return conf;
    }

    public static void main(String[] args) {
        System.exit(execute(args));
    }

    /** Runs the command line and returns the exit status (for tests and embedding). */
    public static int execute(String... args) {
        return commandLine().execute(args);
    }

    /** The command line with the project's error reporting (bad input → "error: …", status 2). */
    static CommandLine commandLine() {
        return dev.mtpspark.spark.CommandRunner.configure(new CommandLine(new ChartsCommand()));
    }
}

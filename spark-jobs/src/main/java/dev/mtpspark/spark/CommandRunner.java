package dev.mtpspark.spark;

import dev.mtpspark.spark.tokenize.BadInputException;
import dev.mtpspark.spark.train.TrainingDivergedException;
import org.apache.spark.SparkConf;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine;

/**
 * Runs a picocli command with the project's exit codes: 0 success, 2 bad input (message names the file, key
 * or value), 3 training diverged (NaN/Inf), 1 anything else (with the stack trace).
 */
public final class CommandRunner {
    public static final int BAD_INPUT = 2;
    public static final int DIVERGED = 3;

    private CommandRunner() {
    }

    public static int execute(Object command, String... args) {
        return configure(new CommandLine(command)).execute(args);
    }

    public static CommandLine configure(CommandLine cl) {
        cl.setExecutionExceptionHandler((e, cmd, parsed) -> {
            Throwable root = e;
            while (!(root instanceof BadInputException) && !(root instanceof TrainingDivergedException)
                    && root.getCause() != null && root.getCause() != root) {
                root = root.getCause();
            }
            if (root instanceof BadInputException) {
                cmd.getErr().println("error: " + root.getMessage());
                return BAD_INPUT;
            }
            if (root instanceof TrainingDivergedException) {
                cmd.getErr().println("error: " + root.getMessage());
                return DIVERGED;
            }
            cmd.getErr().println("error: " + e);
            e.printStackTrace(cmd.getErr());
            return 1;
        });
        return cl;
    }

    /**
     * The Spark session of a job: what spark-submit configured, or Spark local mode with all cores when run
     * directly; Kryo with ND4J's registrator and ours (records need Java serialization) unless the user chose another serializer.
     */
    public static SparkSession sparkSession(String appName) {
        SparkConf conf = new SparkConf().setAppName(appName);
        if (!conf.contains("spark.master")) {
            conf.setMaster("local[*]");
        }
        conf.setIfMissing("spark.serializer", "org.apache.spark.serializer.KryoSerializer");
        conf.set("spark.kryo.registrator", MtpKryoRegistrator.withOurs(conf.get("spark.kryo.registrator", null)));
        conf.setIfMissing("spark.ui.showConsoleProgress", "false");
        return SparkSession.builder().config(conf).getOrCreate();
    }
}

package dev.mtpspark.spark;

import dev.mtpspark.spark.metrics.ChartsCommand;
import dev.mtpspark.spark.pipeline.PipelineCommand;
import dev.mtpspark.spark.tokenize.TokenizeCommand;
import dev.mtpspark.spark.train.EvaluateCommand;
import dev.mtpspark.spark.train.GenerateCommand;
import dev.mtpspark.spark.train.TrainCommand;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The application's main class for {@code spark-submit --class dev.mtpspark.spark.MtpCli}: one subcommand
 * per job.
 */
@Command(name = "mtp-spark", mixinStandardHelpOptions = true,
        description = "Multi-token prediction language-model training on Apache Spark.",
        subcommands = {PipelineCommand.class, TokenizeCommand.class, TrainCommand.class, EvaluateCommand.class,
                GenerateCommand.class, ChartsCommand.class, dev.mtpspark.spark.export.ExportCommand.class,
                dev.mtpspark.spark.tasks.TaskCorpusCommand.class, dev.mtpspark.spark.experiment.ExperimentCommand.class})
public final class MtpCli implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "choose a subcommand: pipeline, tokenize, train, evaluate, generate, charts, export, task-corpus or experiment");
    }

    public static int execute(String... args) {
        return CommandRunner.execute(new MtpCli(), args);
    }

    public static void main(String[] args) {
        if (!inYarnApplicationMaster()) {
            System.exit(execute(args));
        }
        // YARN cluster mode runs main in the ApplicationMaster, which reports the application's final status when
        // main returns or throws; System.exit would end every run as FAILED ("Shutdown hook called before final
        // status was reported"). A failure is thrown instead, so YARN's diagnostics carry the job's error line.
        java.io.StringWriter errors = new java.io.StringWriter();
        java.io.PrintWriter both = new java.io.PrintWriter(new java.io.Writer() {
            @Override
            public void write(char[] buf, int off, int len) {
                System.err.print(new String(buf, off, len));
                errors.write(buf, off, len);
            }

            @Override
            public void flush() {
                System.err.flush();
            }

            @Override
            public void close() {
            }
        }, true);
        int code = CommandRunner.configure(new CommandLine(new MtpCli())).setErr(both).execute(args);
        if (code != 0) {
            String firstLine = errors.toString().lines().filter(l -> !l.isBlank()).findFirst().orElse("(no message)");
            throw new IllegalStateException("mtp-spark " + (args.length > 0 ? args[0] : "") + " exited with status " + code
                    + ": " + firstLine);
        }
    }

    /** Whether this JVM is a YARN ApplicationMaster running the driver (cluster deploy mode). */
    static boolean inYarnApplicationMaster() {
        return String.valueOf(System.getProperty("spark.master")).startsWith("yarn")
                && "cluster".equals(System.getProperty("spark.submit.deployMode"));
    }
}

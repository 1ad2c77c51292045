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
                GenerateCommand.class, ChartsCommand.class, dev.mtpspark.spark.export.ExportCommand.class})
public final class MtpCli implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "choose a subcommand: pipeline, tokenize, train, evaluate, generate or charts");
    }

    public static int execute(String... args) {
        return CommandRunner.execute(new MtpCli(), args);
    }

    public static void main(String[] args) {
        System.exit(execute(args));
    }
}

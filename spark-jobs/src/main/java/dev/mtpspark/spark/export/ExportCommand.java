package dev.mtpspark.spark.export;

import dev.mtpspark.spark.CommandRunner;
import dev.mtpspark.spark.train.CheckpointStore;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.util.concurrent.Callable;

/** {@code export}: a checkpoint as a Hugging Face-layout safetensors directory (see {@link ModelDirectory}). */
@Command(name = "export", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Write a checkpoint as model.safetensors + config.json (GPT-2 layout where it applies), mtp_heads.safetensors, "
                + "tokenizer.json and a model card. Runs on the driver; no Spark job.")
public final class ExportCommand implements Callable<Integer> {
    @Option(names = "--checkpoint", required = true, description = "A checkpoint directory, or a run directory (its newest good checkpoint).")
    String checkpoint;

    @Option(names = "--output", required = true, description = "The directory to write (any Hadoop path).")
    String output;

    @Option(names = "--overwrite", description = "Replace an existing output directory.")
    boolean overwrite;

    @Override
    public Integer call() throws Exception {
        Configuration conf = new Configuration();
        CheckpointStore.Loaded c = CheckpointStore.resolve(checkpoint, conf);
        Path out = new Path(output);
        ModelDirectory.write(c, out, conf, overwrite);
        System.out.println("export: " + c.path() + " → " + out.getFileSystem(conf).makeQualified(out));
        return 0;
    }

    public static void main(String[] args) {
        System.exit(CommandRunner.execute(new ExportCommand(), args));
    }
}

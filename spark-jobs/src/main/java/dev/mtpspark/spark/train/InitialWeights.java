package dev.mtpspark.spark.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mtpspark.core.config.MtpModelConfig;
import dev.mtpspark.core.export.GptLayout;
import dev.mtpspark.core.model.MtpModel;
import dev.mtpspark.core.train.OptimizerSettings;
import dev.mtpspark.spark.export.ModelDirectory;
import dev.mtpspark.spark.tokenize.BadInputException;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.nd4j.linalg.api.buffer.DataType;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;

/**
 * {@code run.init-from}: a new run's model with the weights of a model directory (export's, or any GPT-2-layout
 * safetensors directory whose shapes fit the configured model). The directory's tokenizer must be the dataset's.
 */
final class InitialWeights {
    private static final Logger LOG = LoggerFactory.getLogger(InitialWeights.class);

    private InitialWeights() {
    }

    static MtpModel load(String dir, TrainConfig.InitHeads initHeads, MtpModelConfig config, OptimizerSettings optimizer,
                         DatasetInfo dataset, Configuration hadoop) throws IOException {
        ModelDirectory.Contents d = ModelDirectory.read(new Path(dir), hadoop);
        if (d.tokenizerJson() != null) {
            ObjectMapper json = new ObjectMapper();
            if (!json.readTree(d.tokenizerJson()).equals(json.readTree(dataset.tokenizerJson()))) {
                throw new BadInputException("run.init-from = " + dir + " has another tokenizer than data.dataset = " + dataset.path()
                        + "; tokenize the corpus with --tokenizer huggingface --tokenizer-file " + new Path(dir, ModelDirectory.TOKENIZER)
                        + " (or use the dataset the model was trained on)");
            }
        } else {
            LOG.warn("run.init-from = {} has no {}: the dataset's tokenizer is assumed to be the model's", dir, ModelDirectory.TOKENIZER);
        }
        MtpModel model = MtpModel.create(config, optimizer, DataType.FLOAT);
        try {
            for (String line : GptLayout.load(model, d.model(), new Path(dir, ModelDirectory.MODEL).toString(), d.heads(),
                    new Path(dir, ModelDirectory.HEADS).toString(), d.tiedEmbeddings(),
                    initHeads == TrainConfig.InitHeads.COPY ? GptLayout.ExtraHeads.COPY : GptLayout.ExtraHeads.FRESH)) {
                LOG.info("run.init-from: {}", line);
            }
        } catch (IllegalArgumentException e) {
            throw new BadInputException("run.init-from: " + e.getMessage());
        }
        return model;
    }
}

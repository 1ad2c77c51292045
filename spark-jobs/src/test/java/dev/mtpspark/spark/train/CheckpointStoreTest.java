package dev.mtpspark.spark.train;

import dev.mtpspark.core.config.MtpModelConfig;
import dev.mtpspark.core.model.MtpModel;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Atomic checkpoint writes, checksums, fallback to the previous checkpoint, retention. */
class CheckpointStoreTest {
    private static final MtpModelConfig CONFIG = MtpModelConfig.builder().vocabSize(11).contextLength(4).modelWidth(8)
            .attentionHeads(2).trunkDepth(1).mlpWidth(16).predictedTokens(2).build();

    @TempDir
    Path dir;

    private CheckpointStore store() throws Exception {
        return new CheckpointStore(new org.apache.hadoop.fs.Path(dir.toString()), new Configuration());
    }

    private static TrainState state(long step) {
        return new TrainState(TrainState.FORMAT_VERSION, step, step * 10, step * 2, 100, 1, step, new double[]{1, 1});
    }

    @Test
    void savesAndReloadsEverythingAndKeepsTheNewestK() throws Exception {
        CheckpointStore store = store();
        MtpModel model = MtpModel.create(CONFIG);
        for (long step = 1; step <= 4; step++) {
            store.save(model, state(step), "run: {}\n", "{\"tok\":1}", "{\"m\":1}", 2);
        }
        assertEquals(2, store.list().size());
        CheckpointStore.Loaded latest = store.loadLatest().orElseThrow();
        assertEquals(4, latest.state().step());
        assertEquals(8, latest.state().dataPosition());
        assertEquals("{\"tok\":1}", latest.tokenizerJson());
        assertEquals(model.graph().params(), latest.model().graph().params());
        assertEquals(CONFIG, latest.model().config());
    }

    @Test
    void anInterruptedWriteLeavesThePreviousCheckpointLoadable() throws Exception {
        CheckpointStore store = store();
        MtpModel model = MtpModel.create(CONFIG);
        INDArray saved = model.graph().params().dup();
        store.save(model, state(1), "run: {}\n", "{}", "{}", 3);
        model.graph().params().addi(1);
        // The write fails after model.zip is in the temporary directory (a null configuration cannot be written).
        assertThrows(NullPointerException.class, () -> store.save(model, state(2), null, "{}", "{}", 3));
        // A crash (no cleanup at all) leaves a temporary directory behind: it must be ignored too.
        Files.createDirectories(dir.resolve("checkpoints/.tmp-step-000000003-crashed"));
        Files.writeString(dir.resolve("checkpoints/.tmp-step-000000003-crashed/model.zip"), "partial");
        CheckpointStore.Loaded latest = store.loadLatest().orElseThrow();
        assertEquals(1, latest.state().step());
        assertEquals(saved, latest.model().graph().params());
    }

    @Test
    void aCheckpointOfTheEarlierFormatIsRefusedWithTheReason() throws Exception {
        CheckpointStore store = store();
        MtpModel model = MtpModel.create(CONFIG);
        TrainState old = new TrainState(1, 1, 10, 2, 100, 1, 1, new double[]{1, 1});
        org.apache.hadoop.fs.Path saved = store.save(model, old, "run: {}\n", "{}", "{}", 3);
        java.io.IOException e = assertThrows(java.io.IOException.class, () -> CheckpointStore.load(saved, new Configuration()));
        assertTrue(e.getMessage().contains("checkpoint format 1 is not " + TrainState.FORMAT_VERSION)
                && e.getMessage().contains("start a new run"), e.getMessage());
    }

    @Test
    void aCorruptNewestCheckpointIsDetectedAndThePreviousOneUsed() throws Exception {
        CheckpointStore store = store();
        MtpModel model = MtpModel.create(CONFIG);
        store.save(model, state(1), "run: {}\n", "{}", "{}", 3);
        org.apache.hadoop.fs.Path newest = store.save(model, state(2), "run: {}\n", "{}", "{}", 3);
        Path zip = Path.of(newest.toUri().getPath(), CheckpointStore.MODEL);
        try (RandomAccessFile f = new RandomAccessFile(zip.toFile(), "rw")) {
            f.setLength(f.length() / 2);                     // truncated, as by a full disk or a killed copy
        }
        Files.deleteIfExists(Path.of(newest.toUri().getPath(), "." + CheckpointStore.MODEL + ".crc"));
        java.io.IOException e = assertThrows(java.io.IOException.class, () -> CheckpointStore.load(newest, new Configuration()));
        assertTrue(e.getMessage().contains("model.zip fails its checksum"), e.getMessage());
        assertEquals(1, store.loadLatest().orElseThrow().state().step());
    }
}

package dev.mtpspark.core.model;

import dev.mtpspark.core.config.HeadArchitecture;
import dev.mtpspark.core.config.MtpModelConfig;
import dev.mtpspark.core.export.NpzExport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class NpzExportTest {
    @TempDir
    Path dir;

    @Test
    void roundTripKeepsNamesShapesValuesAndTypes() throws IOException {
        Map<String, INDArray> arrays = new LinkedHashMap<>();
        arrays.put("trunk0_attnQkvW", Nd4j.createFromArray(new double[][]{{1.5, -2.25, 3e-9}, {4, 5, Math.PI}}));
        arrays.put("embed_tokW", Nd4j.createFromArray(new float[][]{{0.1f, 0.2f}, {0.3f, 0.4f}, {0.5f, 0.6f}}));
        arrays.put("tokens", Nd4j.createFromArray(new long[][][]{{{1, 2, 3}}, {{4, 5, 64}}}));
        arrays.put("ints", Nd4j.createFromArray(7, -8, 9));
        arrays.put("fortranOrder", Nd4j.create(new double[]{1, 2, 3, 4, 5, 6}, new long[]{2, 3}, 'f'));
        INDArray base = Nd4j.arange(12).castTo(DataType.DOUBLE).reshape(3, 4);
        arrays.put("columnView", base.get(NDArrayIndex.all(), NDArrayIndex.interval(1, 3)));

        Path file = dir.resolve("arrays.npz");
        NpzExport.write(file, arrays);
        Map<String, INDArray> back = NpzExport.read(file);

        assertEquals(arrays.keySet(), back.keySet());
        for (Map.Entry<String, INDArray> e : arrays.entrySet()) {
            INDArray expected = e.getValue();
            INDArray actual = back.get(e.getKey());
            assertEquals(expected.dataType(), actual.dataType(), e.getKey());
            assertArrayEquals(expected.shape(), actual.shape(), e.getKey());
            assertEquals(expected, actual, e.getKey());
        }
        // data {1..6} laid out column-major in [2, 3]: element [0, 2] is the fifth value.
        assertEquals(5.0, back.get("fortranOrder").getDouble(0, 2), "element [0, 2] of the 'f'-ordered array");
        assertEquals(6.0, back.get("columnView").getDouble(1, 1), "element [1, 1] of the view");
    }

    @Test
    void entriesAreStoredNpyFilesInCOrder() throws IOException {
        Path file = dir.resolve("one.npz");
        NpzExport.write(file, Map.of("w", Nd4j.create(new double[]{1, 2, 3, 4}, new long[]{2, 2}, 'f')));
        try (ZipFile zip = new ZipFile(file.toFile())) {
            List<String> names = new ArrayList<>();
            zip.stream().forEach(en -> names.add(en.getName()));
            assertEquals(List.of("w.npy"), names);
            ZipEntry entry = zip.getEntry("w.npy");
            assertEquals(ZipEntry.STORED, entry.getMethod());
            byte[] bytes = zip.getInputStream(entry).readAllBytes();
            assertEquals("\u0093NUMPY", new String(bytes, 0, 6, StandardCharsets.ISO_8859_1));
            String header = new String(bytes, 10, Math.min(bytes.length - 10, 118), StandardCharsets.ISO_8859_1);
            assertTrue(header.contains("'fortran_order': False"), header);
            assertTrue(header.contains("<f8"), header);
            assertTrue(header.contains("(2, 2)"), header);
        }
    }

    @Test
    void parametersOfAModelRoundTripUnderDl4jNames() throws IOException {
        MtpModelConfig config = TestModels.tiny(HeadArchitecture.SEQUENTIAL, 2).build();
        MtpModel model = TestModels.doubleModel(config);
        Path file = dir.resolve("params.npz");
        NpzExport.writeParameters(model.graph(), file);

        Map<String, INDArray> params = model.graph().paramTable();
        Map<String, INDArray> back = NpzExport.read(file);
        assertEquals(params.keySet(), back.keySet());
        assertTrue(back.containsKey("mtp_tokW") && back.containsKey("mtp_t0attnQkvW")
                && back.containsKey("mtp_h2projW") && back.containsKey("mtp_unembedW"), back.keySet().toString());
        for (Map.Entry<String, INDArray> e : params.entrySet()) {
            INDArray actual = back.get(e.getKey());
            assertEquals(DataType.DOUBLE, actual.dataType(), e.getKey());
            assertArrayEquals(e.getValue().shape(), actual.shape(), e.getKey());
            assertEquals(e.getValue(), actual, e.getKey());
        }
    }

    @Test
    void aFailedWriteKeepsThePreviousFileAndLeavesNoTemporaryFile() throws IOException {
        Path file = dir.resolve("keep.npz");
        NpzExport.write(file, Map.of("a", Nd4j.createFromArray(1.0, 2.0)));
        byte[] before = Files.readAllBytes(file);

        Map<String, INDArray> bad = new LinkedHashMap<>();
        bad.put("fine", Nd4j.createFromArray(3.0));
        bad.put("not/allowed", Nd4j.createFromArray(4.0));
        assertThrows(IllegalArgumentException.class, () -> NpzExport.write(file, bad));

        assertArrayEquals(before, Files.readAllBytes(file));
        try (var files = Files.list(dir)) {
            assertEquals(List.of("keep.npz"), files.map(p -> p.getFileName().toString()).toList(),
                    Arrays.toString(dir.toFile().list()));
        }
    }
}

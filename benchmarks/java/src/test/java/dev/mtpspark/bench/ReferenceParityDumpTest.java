package dev.mtpspark.bench;

import dev.mtpspark.core.config.HeadArchitecture;
import dev.mtpspark.core.config.NormType;
import dev.mtpspark.core.config.PositionalEncoding;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The parity dump's case list and one case's output, as {@code benchmarks/reference/parity.py} reads them. */
class ReferenceParityDumpTest {
    @TempDir
    Path dir;

    @Test
    void theCasesCoverEveryArchitectureNormPositionAndPrecisionUnderUniqueNames() {
        List<ReferenceParityDump.Case> cases = ReferenceParityDump.cases();
        Set<String> names = cases.stream().map(ReferenceParityDump.Case::name).collect(Collectors.toSet());
        assertEquals(cases.size(), names.size(), "case names must be unique: " + names);
        assertEquals(EnumSet.allOf(HeadArchitecture.class), cases.stream().map(ReferenceParityDump.Case::arch)
                .collect(Collectors.toCollection(() -> EnumSet.noneOf(HeadArchitecture.class))));
        assertEquals(EnumSet.allOf(NormType.class), cases.stream().map(ReferenceParityDump.Case::norm)
                .collect(Collectors.toCollection(() -> EnumSet.noneOf(NormType.class))));
        assertEquals(EnumSet.allOf(PositionalEncoding.class), cases.stream().map(ReferenceParityDump.Case::position)
                .collect(Collectors.toCollection(() -> EnumSet.noneOf(PositionalEncoding.class))));
        assertEquals(Set.of(DataType.FLOAT, DataType.DOUBLE), new HashSet<>(cases.stream().map(ReferenceParityDump.Case::dataType).toList()));
        for (HeadArchitecture arch : List.of(HeadArchitecture.PARALLEL, HeadArchitecture.SEQUENTIAL)) {
            for (DataType dt : List.of(DataType.FLOAT, DataType.DOUBLE)) {
                for (int n : new int[] {1, 2, 4}) {
                    assertTrue(cases.contains(new ReferenceParityDump.Case(arch, n, NormType.LAYER_NORM, PositionalEncoding.LEARNED, dt)),
                            arch + " n=" + n + " " + dt);
                }
            }
        }
        assertTrue(names.contains("parallel-n4-ln-learned-double") && names.contains("sequential-n4-rms-rope-double")
                && names.contains("linear-n2-ln-learned-double"), names.toString());
    }

    @Test
    void aCaseWritesWhatParityPyReads() throws Exception {
        ReferenceParityDump.Case c = new ReferenceParityDump.Case(HeadArchitecture.SEQUENTIAL, 2, NormType.RMS_NORM,
                PositionalEncoding.ROPE, DataType.FLOAT);
        Map<String, Object> r = Bench.offMainThread(() -> ReferenceParityDump.dump(c, dir));
        assertEquals(c.name(), r.get("name"));
        for (String key : List.of("weights", "batch", "gradients")) {
            assertTrue(Files.size(dir.resolve((String) r.get(key))) > 0, key);
        }
        assertEquals(2, ((double[]) r.get("horizonLoss")).length);
        assertTrue(Double.isFinite((Double) r.get("score")));
        @SuppressWarnings("unchecked")
        Map<String, Double> norms = (Map<String, Double>) r.get("gradientNorms");
        assertTrue(!norms.isEmpty() && norms.values().stream().allMatch(v -> Double.isFinite(v) && v > 0), norms.toString());
        @SuppressWarnings("unchecked")
        Map<String, Object> config = (Map<String, Object>) r.get("config");
        assertEquals("SEQUENTIAL", config.get("headArchitecture"));
        assertEquals("ROPE", config.get("positionalEncoding"));
    }
}

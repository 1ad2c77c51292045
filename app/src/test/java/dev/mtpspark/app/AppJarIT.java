package dev.mtpspark.app;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.jar.JarFile;
import java.util.jar.Manifest;
import java.util.regex.Pattern;
import java.util.zip.ZipEntry;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Checks the shaded application jar (target/mtp-spark-app.jar) that users pass to spark-submit. */
class AppJarIT {

    private static JarFile jar;
    private static List<String> names;

    @BeforeAll
    static void open() throws IOException {
        Path path = Path.of("target", "mtp-spark-app.jar");
        assertTrue(Files.isRegularFile(path), "no " + path.toAbsolutePath());
        jar = new JarFile(path.toFile());
        names = jar.stream().map(ZipEntry::getName).toList();
    }

    @AfterAll
    static void close() throws IOException {
        jar.close();
    }

    @Test
    void holdsOurClassesAndTheOnesSparkLacks() {
        for (String cls : List.of(
                "dev/mtpspark/spark/tokenize/TokenizeCommand.class",
                "org/nd4j/kryo/Nd4jRegistrator.class",
                "org/nd4j/linalg/factory/Nd4j.class",
                "org/deeplearning4j/spark/impl/graph/SparkComputationGraph.class",
                "de/javakaffee/kryoserializers/UnmodifiableCollectionsSerializer.class",
                "picocli/CommandLine.class")) {
            assertTrue(names.contains(cls), cls);
        }
    }

    @Test
    void leavesOutWhatSparkShips() {
        for (String prefix : List.of("org/apache/spark/", "scala/", "org/apache/hadoop/", "com/amazonaws/",
                "com/fasterxml/jackson/core/", "com/fasterxml/jackson/databind/", "io/netty/", "org/slf4j/",
                "org/apache/logging/log4j/", "com/esotericsoftware/kryo/", "org/apache/commons/lang3/",
                "breeze/", "org/bytedeco/opencv/", "org/bytedeco/ffmpeg/", "org/bytedeco/hdf5/")) {
            assertFalse(names.stream().anyMatch(n -> n.startsWith(prefix) && !dl4jSparkHelper(n)), prefix);
        }
    }

    @Test
    void leavesOutTheBenchmarks() {
        // benchmarks/java (dev.mtpspark.bench) is its own module, and the benchmarks once lived in spark-jobs.
        assertEquals(List.of(), names.stream()
                .filter(n -> n.startsWith("dev/mtpspark/bench/") || n.startsWith("dev/mtpspark/spark/bench/")).toList());
    }

    /** dl4j-spark's own helper inside Spark's package (it reaches package-private Spark API). */
    private static boolean dl4jSparkHelper(String name) {
        return name.equals("org/apache/spark/") || name.startsWith("org/apache/spark/TaskContextHelper");
    }

    @Test
    void nativesAreLinuxX8664Only() {
        Pattern nativeLib = Pattern.compile(".*\\.(so(\\.\\d+)*|dll|dylib|jnilib|a)$");
        List<String> others = names.stream()
                .filter(n -> nativeLib.matcher(n).matches())
                .filter(n -> !n.contains("linux-x86_64/") && !n.contains("linux-x86-64/"))
                .toList();
        assertEquals(List.of(), others);
    }

    @Test
    void servicesAreMergedAndSignaturesStripped() throws IOException {
        String backends = read("META-INF/services/org.nd4j.linalg.factory.Nd4jBackend");
        assertTrue(backends.contains("org.nd4j.linalg.cpu.nativecpu.CpuBackend")
                || backends.contains("org.nd4j.linalg.jcublas.JCublasBackend"), backends);
        assertTrue(names.contains("nd4j-native.properties") || names.contains("nd4j-jcublas.properties"));
        assertFalse(names.stream().anyMatch(n -> n.matches("META-INF/[^/]+\\.(SF|DSA|RSA|EC)")));
        Manifest manifest = jar.getManifest();
        assertEquals("dev.mtpspark.spark.MtpCli", manifest.getMainAttributes().getValue("Main-Class"));
    }

    private static String read(String name) throws IOException {
        ZipEntry entry = jar.getEntry(name);
        assertTrue(entry != null, name);
        try (InputStream in = jar.getInputStream(entry)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }
}

package dev.mtpspark.core.export;

import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * Writes named arrays as a NumPy {@code .npz} file, the format this project uses to export weights (and the
 * batches and gradients of the PyTorch parity check, {@code benchmarks/reference/}).
 *
 * <p>An {@code .npz} file is a zip archive with one {@code <name>.npy} entry per array; {@code numpy.load}
 * and {@link Nd4j#createFromNpzFile} both read it. Each entry is ND4J's own {@code .npy} encoding
 * ({@link Nd4j#toNpyByteArray}) of a C-ordered copy of the array, so shape, values and data type are
 * exactly those of the array. Entries are stored uncompressed, like {@code numpy.savez}: weights do not
 * compress well and stored entries can be read without inflating.
 *
 * <p>The file is written to a temporary file in the same directory and then moved into place, so a
 * reader never sees a partial file and a failed write leaves any previous file untouched.
 */
public final class NpzExport {
    private static final Logger log = LoggerFactory.getLogger(NpzExport.class);

    private NpzExport() {
    }

    /**
     * Writes every parameter of {@code graph} under DL4J's parameter name ({@code layer_param}, as in
     * {@link ComputationGraph#paramTable()}, e.g. {@code mtp_t0attnQkvW}, {@code mtp_unembedW}).
     */
    public static void writeParameters(ComputationGraph graph, Path file) throws IOException {
        write(file, graph.paramTable());
    }

    /**
     * Writes {@code arrays} to {@code file} as {@code .npz}, one entry per map entry in iteration order.
     *
     * @throws IllegalArgumentException when a name is empty or contains a path separator
     */
    public static void write(Path file, Map<String, INDArray> arrays) throws IOException {
        Path target = file.toAbsolutePath();
        Path dir = target.getParent();
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, "." + target.getFileName(), ".tmp");
        try {
            try (OutputStream raw = Files.newOutputStream(tmp);
                 ZipOutputStream zip = new ZipOutputStream(new BufferedOutputStream(raw))) {
                for (Map.Entry<String, INDArray> e : arrays.entrySet()) {
                    writeEntry(zip, e.getKey(), e.getValue());
                }
            }
            move(tmp, target);
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
        log.debug("wrote {} arrays to {}", arrays.size(), target);
    }

    /** Reads an {@code .npz} file into arrays keyed by entry name (without {@code .npy}), in file order. */
    public static Map<String, INDArray> read(Path file) throws IOException {
        try {
            return new LinkedHashMap<>(Nd4j.createFromNpzFile(file.toFile()));
        } catch (IOException | RuntimeException e) {
            throw e;
        } catch (Exception e) {
            // createFromNpzFile declares Exception
            throw new IOException("cannot read " + file + ": " + e, e);
        }
    }

    private static void writeEntry(ZipOutputStream zip, String name, INDArray array) throws IOException {
        if (name == null || name.isEmpty() || name.contains("/") || name.contains("\\")) {
            throw new IllegalArgumentException("invalid .npz entry name '" + name + "'");
        }
        // Parameter tables hold views of one flat buffer (and may be 'f'-ordered): encode a dense C-ordered copy.
        byte[] npy = Nd4j.toNpyByteArray(array.dup('c'));
        ZipEntry entry = new ZipEntry(name + ".npy");
        entry.setMethod(ZipEntry.STORED);
        entry.setSize(npy.length);
        entry.setCompressedSize(npy.length);
        CRC32 crc = new CRC32();
        crc.update(npy);
        entry.setCrc(crc.getValue());
        zip.putNextEntry(entry);
        zip.write(npy);
        zip.closeEntry();
    }

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }
}

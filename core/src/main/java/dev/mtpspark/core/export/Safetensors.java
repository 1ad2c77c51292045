package dev.mtpspark.core.export;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The safetensors format (huggingface/safetensors): an 8-byte little-endian header length N, N bytes of JSON
 * ({@code name → {dtype, shape, data_offsets}} plus {@code __metadata__}), then the little-endian row-major data.
 * Written directly (no Java library for it is on Maven Central): F32 tensors, the header padded with spaces to a
 * multiple of 8, tensors in the given order. Read strictly: every inconsistency (length, JSON, dtype, shape against
 * the byte span, offsets that overlap or leave holes, a file longer or shorter than its header says) is an
 * {@link IllegalArgumentException} naming the file and the tensor. F32 and F64 tensors are read (as floats).
 */
public final class Safetensors {
    /** One tensor: its shape and row-major values. */
    public record Tensor(long[] shape, float[] values) {
        public Tensor {
            long count = 1;
            for (long s : shape) {
                count *= s;
            }
            if (count != values.length) {
                throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " holds " + count + " values, not " + values.length);
            }
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final long MAX_HEADER = 100L << 20;

    private Safetensors() {
    }

    /** Writes {@code tensors} (in their order) with {@code metadata} to {@code out}. */
    public static void write(OutputStream out, Map<String, Tensor> tensors, Map<String, String> metadata) throws IOException {
        ObjectNode header = JSON.createObjectNode();
        ObjectNode meta = header.putObject("__metadata__");
        metadata.forEach(meta::put);
        long offset = 0;
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            ObjectNode t = header.putObject(e.getKey());
            t.put("dtype", "F32");
            var shape = t.putArray("shape");
            for (long s : e.getValue().shape()) {
                shape.add(s);
            }
            long bytes = 4L * e.getValue().values().length;
            t.putArray("data_offsets").add(offset).add(offset + bytes);
            offset += bytes;
        }
        byte[] json = JSON.writeValueAsBytes(header);
        int padded = (json.length + 7) / 8 * 8;
        byte[] headerBytes = Arrays.copyOf(json, padded);
        Arrays.fill(headerBytes, json.length, padded, (byte) ' ');
        out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(padded).array());
        out.write(headerBytes);
        for (Tensor t : tensors.values()) {
            ByteBuffer b = ByteBuffer.allocate(4 * t.values().length).order(ByteOrder.LITTLE_ENDIAN);
            b.asFloatBuffer().put(t.values());
            out.write(b.array());
        }
    }

    /** The bytes of {@link #write}. */
    public static byte[] toBytes(Map<String, Tensor> tensors, Map<String, String> metadata) {
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            write(out, tensors, metadata);
            return out.toByteArray();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Parses a whole file's bytes; {@code file} names it in every error. Tensors in file order. */
    public static Map<String, Tensor> read(byte[] bytes, String file) {
        if (bytes.length < 8) {
            throw bad(file, "is " + bytes.length + " bytes long, shorter than the 8-byte header length: truncated or not a safetensors file");
        }
        long n = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        if (n < 2 || n > MAX_HEADER || 8 + n > bytes.length) {
            throw bad(file, "declares a header of " + n + " bytes but the file has " + (bytes.length - 8)
                    + " bytes after the length: truncated or not a safetensors file");
        }
        String text = new String(bytes, 8, (int) n, StandardCharsets.UTF_8);
        JsonNode header;
        try {
            header = JSON.readTree(text.stripTrailing());
        } catch (JsonProcessingException e) {
            throw bad(file, "has a header that is not valid JSON (" + e.getOriginalMessage() + ")");
        }
        if (header == null || !header.isObject()) {
            throw bad(file, "has a header that is not a JSON object");
        }
        long buffer = bytes.length - 8 - n;
        Map<String, Tensor> out = new LinkedHashMap<>();
        List<long[]> spans = new ArrayList<>();
        List<String> owners = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = header.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String name = e.getKey();
            if (name.equals("__metadata__")) {
                continue;
            }
            JsonNode t = e.getValue();
            String dtype = t.path("dtype").asText("");
            int size = switch (dtype) {
                case "F32" -> 4;
                case "F64" -> 8;
                default -> throw bad(file, "tensor " + name + " has dtype '" + dtype + "'; only F32 and F64 are read");
            };
            JsonNode shapeNode = t.path("shape");
            JsonNode offsets = t.path("data_offsets");
            if (!shapeNode.isArray() || !offsets.isArray() || offsets.size() != 2) {
                throw bad(file, "tensor " + name + " lacks a shape array or a [begin, end] data_offsets pair");
            }
            long[] shape = new long[shapeNode.size()];
            long count = 1;
            for (int i = 0; i < shape.length; i++) {
                shape[i] = shapeNode.get(i).asLong(-1);
                if (shape[i] < 0) {
                    throw bad(file, "tensor " + name + " has a negative or non-numeric dimension in " + shapeNode);
                }
                count *= shape[i];
            }
            long begin = offsets.get(0).asLong(-1);
            long end = offsets.get(1).asLong(-1);
            if (begin < 0 || end < begin || end > buffer) {
                throw bad(file, "tensor " + name + " has data_offsets [" + begin + ", " + end + "] outside the "
                        + buffer + "-byte data buffer: truncated or corrupt");
            }
            if (end - begin != count * size) {
                throw bad(file, "tensor " + name + " of shape " + Arrays.toString(shape) + " and dtype " + dtype + " needs "
                        + count * size + " bytes, its data_offsets span " + (end - begin));
            }
            spans.add(new long[] {begin, end});
            owners.add(name);
            ByteBuffer b = ByteBuffer.wrap(bytes, (int) (8 + n + begin), (int) (end - begin)).order(ByteOrder.LITTLE_ENDIAN);
            float[] values = new float[(int) count];
            if (size == 4) {
                b.asFloatBuffer().get(values);
            } else {
                for (int i = 0; i < values.length; i++) {
                    values[i] = (float) b.getDouble();
                }
            }
            out.put(name, new Tensor(shape, values));
        }
        checkCoverage(file, spans, owners, buffer);
        return out;
    }

    /** The data buffer must be covered exactly: no two tensors overlap, no byte belongs to none. */
    private static void checkCoverage(String file, List<long[]> spans, List<String> owners, long buffer) {
        Integer[] order = new Integer[spans.size()];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> Long.compare(spans.get(a)[0], spans.get(b)[0]));
        long covered = 0;
        for (int i : order) {
            long[] s = spans.get(i);
            if (s[0] < covered) {
                throw bad(file, "tensor " + owners.get(i) + " (bytes " + s[0] + ".." + s[1] + ") overlaps the tensor before it");
            }
            if (s[0] > covered) {
                throw bad(file, "bytes " + covered + ".." + s[0] + " of the data buffer belong to no tensor (a hole before "
                        + owners.get(i) + ")");
            }
            covered = s[1];
        }
        if (covered != buffer) {
            throw bad(file, "has " + (buffer - covered) + " bytes after its last tensor that belong to no tensor");
        }
    }

    private static IllegalArgumentException bad(String file, String what) {
        return new IllegalArgumentException(file + " " + what);
    }
}

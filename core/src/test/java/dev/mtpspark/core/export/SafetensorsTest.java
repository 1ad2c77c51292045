package dev.mtpspark.core.export;

import dev.mtpspark.core.export.Safetensors.Tensor;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The safetensors writer's layout (by hand from the spec) and every inconsistency the reader refuses. */
class SafetensorsTest {
    private static Map<String, Tensor> sample() {
        Map<String, Tensor> t = new LinkedHashMap<>();
        t.put("a.weight", new Tensor(new long[] {2, 3}, new float[] {1, 2, 3, 4, 5, 6}));
        t.put("b", new Tensor(new long[] {1}, new float[] {-0.5f}));
        return t;
    }

    @Test
    void writesTheSpecLayoutAndReadsItBack() {
        byte[] bytes = Safetensors.toBytes(sample(), Map.of("format", "pt"));
        long n = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, n % 8, "header padded to a multiple of 8");
        String header = new String(bytes, 8, (int) n, StandardCharsets.UTF_8);
        assertTrue(header.startsWith("{\"__metadata__\":{\"format\":\"pt\"},\"a.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}"), header);
        assertEquals(8 + n + 28, bytes.length);
        assertEquals(1f, ByteBuffer.wrap(bytes, (int) (8 + n), 4).order(ByteOrder.LITTLE_ENDIAN).getFloat(), "little-endian data");
        Map<String, Tensor> back = Safetensors.read(bytes, "x.safetensors");
        assertEquals(sample().keySet(), back.keySet());
        assertArrayEquals(new long[] {2, 3}, back.get("a.weight").shape());
        assertArrayEquals(sample().get("a.weight").values(), back.get("a.weight").values());
    }

    @Test
    void readsF64AsFloats() {
        byte[] bytes = file("{\"t\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,16]}}",
                ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putDouble(1.5).putDouble(-2).array());
        assertArrayEquals(new float[] {1.5f, -2f}, Safetensors.read(bytes, "d.safetensors").get("t").values());
    }

    @Test
    void refusesEveryInconsistencyNamingTheFileAndTensor() {
        byte[] good = Safetensors.toBytes(sample(), Map.of());
        assertMessage(Arrays.copyOf(good, 5), "m.safetensors is 5 bytes long");
        assertMessage(Arrays.copyOf(good, good.length - 4), "m.safetensors tensor b has data_offsets [24, 28] outside the 24-byte data buffer");
        assertMessage(Arrays.copyOf(good, 40), "declares a header of");
        assertMessage(file("{not json", new byte[0]), "header that is not valid JSON");
        assertMessage(file("{\"t\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}", new byte[8]),
                "tensor t has dtype 'I64'; only F32 and F64 are read");
        assertMessage(file("{\"t\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", new byte[8]),
                "tensor t of shape [3] and dtype F32 needs 12 bytes, its data_offsets span 8");
        assertMessage(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", new byte[12]), "overlaps the tensor before it");
        assertMessage(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", new byte[12]), "bytes 4..8 of the data buffer belong to no tensor (a hole before b)");
        assertMessage(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", new byte[8]),
                "has 4 bytes after its last tensor");
        assertMessage(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", new byte[4]), "tensor a lacks a shape array or a [begin, end] data_offsets pair");
    }

    private static void assertMessage(byte[] bytes, String expected) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Safetensors.read(bytes, "m.safetensors"));
        assertTrue(e.getMessage().startsWith("m.safetensors "), e.getMessage());
        assertTrue(e.getMessage().contains(expected), "expected '" + expected + "' in: " + e.getMessage());
    }

    private static byte[] file(String header, byte[] data) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h).put(data);
        return b.array();
    }
}

package dev.mtpspark.core.data;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The pre-token cache against a map: what it holds it returns exactly, by the characters of a buffer range. */
class PreTokenCacheTest {
    private static int[] emitted(PreTokenCache cache, String key) {
        char[] buffer = ("<<" + key + ">>").toCharArray();          // the key inside a larger buffer
        List<Integer> out = new ArrayList<>();
        boolean hit = cache.emit(buffer, 2, 2 + key.length(), out::add);
        return hit ? out.stream().mapToInt(Integer::intValue).toArray() : null;
    }

    private static void put(PreTokenCache cache, String key, int[] ids) {
        char[] buffer = ("#" + key).toCharArray();
        cache.put(buffer, 1, buffer.length, ids);
    }

    @Test
    void returnsWhatItHoldsAndNothingElse() {
        Random random = new Random(3);
        PreTokenCache cache = new PreTokenCache(50_000);
        Map<String, int[]> expected = new HashMap<>();
        for (int i = 0; i < 40_000; i++) {
            // short keys with many near-duplicates (prefixes, one character apart), empty id lists included
            String key = Integer.toString(random.nextInt(60_000), 7 + random.nextInt(3)) + (i % 3 == 0 ? " " : "");
            if (expected.containsKey(key)) {
                continue;
            }
            int[] ids = random.ints(random.nextInt(4), 0, 32_000).toArray();
            put(cache, key, ids);
            expected.put(key, ids);
        }
        assertEquals(expected.size(), cache.size());
        for (Map.Entry<String, int[]> e : expected.entrySet()) {
            assertArrayEquals(e.getValue(), emitted(cache, e.getKey()), e.getKey());
        }
        assertEquals(null, emitted(cache, "not a key"));
        assertEquals(null, emitted(cache, ""));
    }

    @Test
    void emptiesWhenFullAndSkipsLongKeys() {
        PreTokenCache cache = new PreTokenCache(1000);
        for (int i = 0; i < 1000; i++) {
            put(cache, "k" + i, new int[] {i});
        }
        assertEquals(1000, cache.size());
        assertArrayEquals(new int[] {999}, emitted(cache, "k999"));
        put(cache, "new", new int[] {1, 2});
        assertEquals(1, cache.size(), "full: emptied, then the new entry");
        assertArrayEquals(new int[] {1, 2}, emitted(cache, "new"));
        assertEquals(null, emitted(cache, "k0"));
        String long1 = "x".repeat(PreTokenCache.MAX_KEY_CHARS + 1);
        put(cache, long1, new int[] {7});
        assertEquals(null, emitted(cache, long1));
        String longest = "y".repeat(PreTokenCache.MAX_KEY_CHARS);
        put(cache, longest, new int[] {8});
        assertArrayEquals(new int[] {8}, emitted(cache, longest));
        assertTrue(cache.size() == 2);
        assertFalse(cache.emit("k1".toCharArray(), 0, 2, id -> { }));
    }
}

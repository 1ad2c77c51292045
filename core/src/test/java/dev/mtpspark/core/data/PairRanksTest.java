package dev.mtpspark.core.data;

import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The primitive rank table gives what a map built from the merge list gives, for present and absent pairs. */
class PairRanksTest {

    @Test
    void ranksEqualAMapOfTheMergeListIncludingRepeatedAndAbsentPairs() {
        SplittableRandom random = new SplittableRandom(5);
        int[][] merges = new int[40_000][];
        Map<Long, Integer> expected = new HashMap<>();
        for (int r = 0; r < merges.length; r++) {
            // Ids below 300 make many pairs collide under left ^ right and some repeat; the last rank of a pair wins.
            merges[r] = new int[] {random.nextInt(300), random.nextInt(300 + r)};
            expected.put(BpeTokenizer.pairKey(merges[r][0], merges[r][1]), r);
        }
        PairRanks ranks = new PairRanks(merges);
        for (int[] m : merges) {
            assertEquals(expected.get(BpeTokenizer.pairKey(m[0], m[1])), ranks.rank(m[0], m[1]));
        }
        for (int i = 0; i < 100_000; i++) {
            int left = random.nextInt(50_000);
            int right = random.nextInt(50_000);
            assertEquals(expected.getOrDefault(BpeTokenizer.pairKey(left, right), Integer.MAX_VALUE), ranks.rank(left, right));
        }
        assertEquals(Integer.MAX_VALUE, new PairRanks(new int[0][]).rank(1, 2));
    }
}

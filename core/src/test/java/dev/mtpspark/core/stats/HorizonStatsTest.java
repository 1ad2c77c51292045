package dev.mtpspark.core.stats;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.factory.Nd4j;

import java.io.*;

import static org.junit.jupiter.api.Assertions.*;

class HorizonStatsTest {

    @Test
    void countsLossTopOneAndTopFiveFromLogits() {
        // B = 1, n = 2, T = 1, V = 6. Horizon 1: label is the arg-max. Horizon 2: label ranks 6th of 6.
        double[] h1 = {0, 3, 1, 0, 0, 0};
        double[] h2 = {5, 4, 3, 2, 1, 0};
        var logits = Nd4j.create(new double[][][][] {{{h1}, {h2}}});
        var labels = Nd4j.create(new double[][][] {{{1}, {5}}});
        HorizonStats s = HorizonStats.fromLogits(logits, labels);
        assertEquals(1.0, s.accuracy(1));
        assertEquals(1.0, s.top5(1));
        assertEquals(0.0, s.accuracy(2));
        assertEquals(0.0, s.top5(2));
        double z1 = Math.log(Math.exp(0) * 4 + Math.exp(3) + Math.exp(1));
        assertEquals(z1 - 3, s.loss(1), 1e-12);
        assertEquals(Math.exp(z1 - 3), s.perplexity(1), 1e-9);
    }

    @Test
    void mergeAddsSumsAndSurvivesJavaSerialization() throws Exception {
        HorizonStats a = new HorizonStats(2);
        a.add(1, 2.0, true, true);
        a.add(2, 4.0, false, true);
        HorizonStats b = new HorizonStats(2);
        b.add(1, 1.0, false, false);
        b.add(1, 3.0, true, true);

        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(b);
        }
        HorizonStats copy;
        try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
            copy = (HorizonStats) in.readObject();
        }
        a.merge(copy);
        assertEquals(3, a.tokens(1));
        assertEquals(2.0, a.loss(1), 1e-12);
        assertEquals(2.0 / 3, a.accuracy(1), 1e-12);
        assertEquals(1, a.tokens(2));
        assertEquals(4.0, a.loss(2), 1e-12);
        assertThrows(IllegalArgumentException.class, () -> a.merge(new HorizonStats(3)));
    }
}

package dev.mtpspark.core.data;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.function.IntConsumer;

/** One id per byte (0–255), plus {@code <eos>} = 256 and {@code <pad>} = 257. Keeps invalid UTF-8 as bytes. */
public final class ByteTokenizer implements Tokenizer {
    public static final int EOS = 256;
    public static final int PAD = 257;

    @Override
    public String type() {
        return "byte";
    }

    @Override
    public int vocabSize() {
        return 258;
    }

    @Override
    public int eosId() {
        return EOS;
    }

    @Override
    public Encoder newEncoder(IntConsumer sink) {
        return new Encoder() {
            @Override
            public void write(byte[] bytes, int offset, int length) {
                for (int i = offset; i < offset + length; i++) {
                    sink.accept(bytes[i] & 0xFF);
                }
            }

            @Override
            public void finish() {
            }

            @Override
            public long replacedSequences() {
                return 0;
            }
        };
    }

    /** The exact bytes of the non-special ids. */
    public byte[] decodeBytes(int[] ids) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(ids.length);
        for (int id : ids) {
            if (id < 256) {
                out.write(id);
            }
        }
        return out.toByteArray();
    }

    @Override
    public String decode(int[] ids) {
        StringBuilder sb = new StringBuilder();
        ByteArrayOutputStream run = new ByteArrayOutputStream();
        for (int id : ids) {
            if (id < 256) {
                run.write(id);
            } else {
                sb.append(run.toString(StandardCharsets.UTF_8)).append(id == EOS ? "<eos>" : "<pad>");
                run.reset();
            }
        }
        return sb.append(run.toString(StandardCharsets.UTF_8)).toString();
    }
}

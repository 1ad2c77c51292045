package dev.mtpspark.core.data;

import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.util.function.IntConsumer;

/**
 * Turns UTF-8 bytes into token ids and back. Encoding is streaming ({@link #newEncoder}) so that a document
 * of any size — a 200 MB line without a newline included — is tokenized in bounded memory. Invalid UTF-8
 * never fails: the byte tokenizer keeps the bytes, the others replace each malformed sequence with U+FFFD
 * and count it.
 */
public interface Tokenizer extends Serializable {

    /** Short name of the tokenizer kind: {@code byte}, {@code char}, {@code bpe} or {@code huggingface}. */
    String type();

    /** Number of ids, special tokens included. */
    int vocabSize();

    /** Id placed between documents, or −1 when this tokenizer has none. */
    int eosId();

    /** A streaming encoder that passes every id to {@code sink}. */
    Encoder newEncoder(IntConsumer sink);

    /** Text of the ids; special tokens render as their names. */
    String decode(int[] ids);

    /** Encodes a whole byte array. */
    default int[] encode(byte[] utf8) {
        IntArrayBuilder out = new IntArrayBuilder(utf8.length);
        Encoder encoder = newEncoder(out);
        encoder.write(utf8, 0, utf8.length);
        encoder.finish();
        return out.toArray();
    }

    default int[] encode(String text) {
        return encode(text.getBytes(StandardCharsets.UTF_8));
    }

    /** Streaming encoder of one document. */
    interface Encoder {
        void write(byte[] bytes, int offset, int length);

        /** Flushes everything held back; the encoder must not be written to afterwards. */
        void finish();

        /** Malformed UTF-8 sequences replaced by U+FFFD so far. */
        long replacedSequences();

        /** Characters dropped because the vocabulary has no id for them (char tokenizer only). */
        default long unknownCharacters() {
            return 0;
        }
    }

    /** Growable int array used as a sink. */
    final class IntArrayBuilder implements IntConsumer {
        private int[] data;
        private int size;

        public IntArrayBuilder(int capacity) {
            data = new int[Math.max(16, capacity)];
        }

        @Override
        public void accept(int value) {
            if (size == data.length) {
                data = java.util.Arrays.copyOf(data, data.length * 2);
            }
            data[size++] = value;
        }

        public int[] toArray() {
            return java.util.Arrays.copyOf(data, size);
        }
    }
}

package dev.mtpspark.core.data;

import java.util.function.IntConsumer;

/**
 * The common shape of our streaming encoders: UTF-8 bytes are decoded to code points (malformed sequences
 * replaced and counted) for a consumer, and a finishing step runs after the last byte.
 */
class CodePointEncoder implements Tokenizer.Encoder {
    private final Utf8Decoder decoder;
    private final Runnable afterLastByte;

    CodePointEncoder(IntConsumer codePoints, Runnable afterLastByte) {
        this.decoder = new Utf8Decoder(codePoints);
        this.afterLastByte = afterLastByte;
    }

    @Override
    public void write(byte[] bytes, int offset, int length) {
        decoder.write(bytes, offset, length);
    }

    @Override
    public void finish() {
        decoder.finish();
        afterLastByte.run();
    }

    @Override
    public long replacedSequences() {
        return decoder.replaced();
    }
}

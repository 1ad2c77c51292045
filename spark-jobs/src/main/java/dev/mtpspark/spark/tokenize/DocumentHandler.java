package dev.mtpspark.spark.tokenize;

/** Receives the documents of a corpus, each announced with a stable key (for the document-hash split). */
interface DocumentHandler {
    void startDocument(String key);

    void bytes(byte[] data, int offset, int length);

    void endDocument();
}

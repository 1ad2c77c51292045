package dev.mtpspark.core.config;

/**
 * A setting of earlier releases, kept only so that model files that recorded it still deserialise (Java
 * serialisation resolves the class of every field it reads, even one the record no longer has). It has no
 * effect: the network always runs the heads one at a time, the paper's memory-efficient order.
 */
public enum HeadOrder {
    ALL_AT_ONCE,
    PER_HEAD
}

package dev.mtpspark.spark.tokenize;

/** The corpus or the job's arguments cannot be used; the message names the path, key or value. */
public class BadInputException extends RuntimeException {
    public BadInputException(String message) {
        super(message);
    }
}

package dev.mtpspark.spark.train;

/** The loss or the parameters became NaN or infinite; the job stops without writing a checkpoint. */
public final class TrainingDivergedException extends RuntimeException {
    public TrainingDivergedException(String message) {
        super(message);
    }
}

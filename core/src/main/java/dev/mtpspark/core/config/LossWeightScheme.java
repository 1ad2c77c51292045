package dev.mtpspark.core.config;

/** Named schemes for the per-horizon loss weights w_1..w_n. */
public enum LossWeightScheme {
    /** w_k = 1 (the paper's choice). */
    UNIFORM,
    /** w_k = γ^(k−1), γ in (0, 1]. */
    GEOMETRIC,
    /** w_k = 1/k. */
    HARMONIC;

    /** The weights of this scheme for n horizons; {@code gamma} is only read by {@link #GEOMETRIC}. */
    public double[] weights(int n, double gamma) {
        double[] w = new double[n];
        for (int k = 1; k <= n; k++) {
            w[k - 1] = switch (this) {
                case UNIFORM -> 1.0;
                case GEOMETRIC -> Math.pow(gamma, k - 1);
                case HARMONIC -> 1.0 / k;
            };
        }
        return w;
    }
}

package dev.mtpspark.core.config;

/**
 * A configuration value is invalid. The message always names the offending key, the value and the
 * valid range, so that a user can fix the configuration without reading code.
 */
public class InvalidConfigException extends IllegalArgumentException {
    private final String key;

    public InvalidConfigException(String key, Object value, String validRange) {
        super(key + " = " + render(value) + " is invalid: " + validRange);
        this.key = key;
    }

    /** The configuration key whose value was rejected. */
    public String key() {
        return key;
    }

    private static String render(Object value) {
        if (value instanceof double[] a) {
            return java.util.Arrays.toString(a);
        }
        return String.valueOf(value);
    }
}

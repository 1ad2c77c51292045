package dev.mtpspark.spark.train;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.BeanDescription;
import com.fasterxml.jackson.databind.DeserializationConfig;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JavaType;
import com.fasterxml.jackson.databind.JsonDeserializer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.deser.BeanDeserializerModifier;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.exc.ValueInstantiationException;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import dev.mtpspark.spark.tokenize.BadInputException;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Reads a {@link TrainConfig}: the built-in defaults ({@code mtp-train-defaults.yaml}), overlaid by a YAML
 * file, overlaid by {@code key=value} overrides ({@code optimizer.learning-rate=5e-4}), then bound to the
 * typed records. Unknown keys, wrong types and invalid values fail with a {@link BadInputException} that names
 * the key (and the file).
 *
 * <p>Keys of earlier releases that no longer have an effect ({@link #RETIRED_MODEL_KEYS}) are accepted, with any
 * value, and dropped with one WARN line, so that configurations and checkpoints written by those releases still load.
 */
public final class TrainConfigLoader {
    private static final Logger LOG = LoggerFactory.getLogger(TrainConfigLoader.class);
    private static final String DEFAULTS = "/mtp-train-defaults.yaml";
    /**
     * {@code model.*} keys that earlier releases wrote and that are ignored now, with why. {@code head-order} chose
     * how a training step computed the heads; the network always runs them one at a time now.
     */
    static final Map<String, String> RETIRED_MODEL_KEYS = Map.of("head-order",
            "the heads always run one at a time, the paper's memory-efficient order");
    private static final ObjectMapper YAML = mapper();

    private TrainConfigLoader() {
    }

    /** Loads {@code file} (any Hadoop path, or null for the defaults alone) with overrides applied in order. */
    public static TrainConfig load(String file, List<String> overrides) {
        JsonNode tree = defaults();
        String source = "built-in defaults";
        if (file != null) {
            source = file;
            merge((ObjectNode) tree, readFile(file), "");
        }
        for (String override : overrides) {
            applyOverride((ObjectNode) tree, override);
        }
        dropRetiredKeys(tree, file == null ? "--set" : overrides.isEmpty() ? file : file + " with --set");
        return bind(tree, source);
    }

    /** Binds a complete YAML document (for example the configuration saved in a checkpoint). */
    public static TrainConfig fromYaml(String yaml, String source) {
        JsonNode tree = defaults();
        try {
            merge((ObjectNode) tree, YAML.readTree(yaml), "");
        } catch (JsonProcessingException e) {
            throw new BadInputException(source + ": not valid YAML: " + e.getOriginalMessage());
        }
        dropRetiredKeys(tree, source);
        return bind(tree, source);
    }

    /** The effective configuration as YAML, as logged and saved with every checkpoint. */
    public static String toYaml(TrainConfig config) {
        try {
            return YAML.writeValueAsString(config);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot render the configuration", e);
        }
    }

    private static JsonNode defaults() {
        try (InputStream in = TrainConfigLoader.class.getResourceAsStream(DEFAULTS)) {
            return YAML.readTree(in);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read the built-in " + DEFAULTS, e);
        }
    }

    private static JsonNode readFile(String file) {
        Path path = new Path(file);
        try {
            FileSystem fs = path.getFileSystem(new Configuration());
            if (!fs.exists(path)) {
                throw new BadInputException("configuration file " + file + " does not exist");
            }
            try (InputStream in = fs.open(path)) {
                JsonNode node = YAML.readTree(new String(in.readAllBytes(), StandardCharsets.UTF_8));
                if (node == null || node.isMissingNode() || node.isNull()) {
                    return YAML.createObjectNode();
                }
                if (!node.isObject()) {
                    throw new BadInputException("configuration file " + file + " must hold a YAML mapping of sections, not " + node.getNodeType());
                }
                return node;
            }
        } catch (JsonProcessingException e) {
            throw new BadInputException("configuration file " + file + " is not valid YAML: " + e.getOriginalMessage()
                    + (e.getLocation() != null ? " (line " + e.getLocation().getLineNr() + ")" : ""));
        } catch (IOException e) {
            throw new BadInputException("cannot read configuration file " + file + ": " + e.getMessage());
        }
    }

    /** Deep merge; a key unknown to the defaults is left in place so that binding reports it by name. */
    private static void merge(ObjectNode target, JsonNode overlay, String prefix) {
        Iterator<Map.Entry<String, JsonNode>> fields = overlay.fields();
        while (fields.hasNext()) {
            Map.Entry<String, JsonNode> e = fields.next();
            JsonNode existing = target.get(e.getKey());
            if (existing instanceof ObjectNode o && e.getValue().isObject()) {
                merge(o, e.getValue(), prefix + e.getKey() + ".");
            } else if (existing instanceof ObjectNode && !e.getValue().isObject() && !e.getValue().isNull()) {
                throw new BadInputException(prefix + e.getKey() + " is a section; give its keys (" + fieldNames(existing) + ")");
            } else {
                target.set(e.getKey(), e.getValue());
            }
        }
    }

    private static void applyOverride(ObjectNode tree, String override) {
        int eq = override.indexOf('=');
        if (eq <= 0) {
            throw new BadInputException("--set " + override + " is invalid: expected key=value, e.g. training.steps=100");
        }
        String key = override.substring(0, eq).trim();
        String raw = override.substring(eq + 1);
        JsonNode value;
        try {
            value = raw.isEmpty() ? YAML.getNodeFactory().textNode("") : YAML.readTree(raw);
        } catch (JsonProcessingException e) {
            throw new BadInputException("--set " + key + ": value " + raw + " is not a YAML scalar or list: " + e.getOriginalMessage());
        }
        if (value == null || value.isMissingNode()) {
            value = YAML.getNodeFactory().textNode(raw);
        }
        String[] parts = key.split("\\.");
        ObjectNode node = tree;
        for (int i = 0; i < parts.length - 1; i++) {
            JsonNode child = node.get(parts[i]);
            if (child == null) {
                throw new BadInputException("--set " + key + ": unknown section " + String.join(".", List.of(parts).subList(0, i + 1))
                        + "; sections are " + fieldNames(tree));
            }
            if (!(child instanceof ObjectNode o)) {
                throw new BadInputException("--set " + key + ": " + String.join(".", List.of(parts).subList(0, i + 1)) + " is not a section");
            }
            node = o;
        }
        node.set(parts[parts.length - 1], value);
    }

    /** Drops the retired keys from the {@code model} section, with one WARN line per key (see {@link #RETIRED_MODEL_KEYS}). */
    private static void dropRetiredKeys(JsonNode tree, String source) {
        if (tree.get("model") instanceof ObjectNode model) {
            for (Map.Entry<String, String> retired : RETIRED_MODEL_KEYS.entrySet()) {
                JsonNode value = model.remove(retired.getKey());
                if (value != null) {
                    LOG.warn("{}: model.{} = {} has no effect any more and is ignored: {}", source, retired.getKey(),
                            value.isValueNode() ? value.asText() : value.toString(), retired.getValue());
                }
            }
        }
    }

    private static TrainConfig bind(JsonNode tree, String source) {
        try {
            return YAML.treeToValue(tree, TrainConfig.class);
        } catch (UnrecognizedPropertyException e) {
            String key = path(e);
            List<String> known = new ArrayList<>();
            e.getKnownPropertyIds().forEach(id -> known.add(String.valueOf(id)));
            known.sort(null);
            throw new BadInputException(source + ": unknown key " + key + "; valid keys here are " + String.join(", ", known));
        } catch (ValueInstantiationException e) {
            Throwable cause = e.getCause();
            while (cause != null && !(cause instanceof BadInputException) && cause.getCause() != null) {
                cause = cause.getCause();
            }
            if (cause instanceof BadInputException b) {
                throw new BadInputException(source + ": " + b.getMessage());
            }
            throw new BadInputException(source + ": " + path(e) + ": " + e.getOriginalMessage());
        } catch (MismatchedInputException e) {
            throw new BadInputException(source + ": " + path(e) + " has the wrong type: " + e.getOriginalMessage());
        } catch (JsonProcessingException e) {
            throw new BadInputException(source + ": " + e.getOriginalMessage());
        } catch (IllegalArgumentException e) {
            Throwable cause = e.getCause();
            if (cause instanceof BadInputException b) {
                throw new BadInputException(source + ": " + b.getMessage());
            }
            throw new BadInputException(source + ": " + e.getMessage());
        }
    }

    private static String path(com.fasterxml.jackson.databind.JsonMappingException e) {
        StringBuilder key = new StringBuilder();
        for (com.fasterxml.jackson.databind.JsonMappingException.Reference ref : e.getPath()) {
            if (ref.getFieldName() != null) {
                key.append(key.length() == 0 ? "" : ".").append(ref.getFieldName());
            } else if (ref.getIndex() >= 0) {
                key.append('[').append(ref.getIndex()).append(']');
            }
        }
        return key.toString();
    }

    private static String fieldNames(JsonNode node) {
        List<String> names = new ArrayList<>();
        node.fieldNames().forEachRemaining(names::add);
        return String.join(", ", names);
    }

    private static ObjectMapper mapper() {
        ObjectMapper m = new ObjectMapper(new YAMLFactory()
                .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
                .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES));
        m.setPropertyNamingStrategy(PropertyNamingStrategies.KEBAB_CASE);
        m.enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);
        m.enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES);
        m.disable(SerializationFeature.FAIL_ON_EMPTY_BEANS);
        m.disable(MapperFeature.ALLOW_COERCION_OF_SCALARS);
        SimpleModule enums = new SimpleModule("kebab-enums");
        enums.setDeserializerModifier(new BeanDeserializerModifier() {
            @Override
            public JsonDeserializer<?> modifyEnumDeserializer(DeserializationConfig config, JavaType type,
                                                              BeanDescription beanDesc, JsonDeserializer<?> deserializer) {
                return new KebabEnumDeserializer(type.getRawClass());
            }
        });
        enums.addSerializer(Enum.class, new com.fasterxml.jackson.databind.ser.std.StdSerializer<Enum>(Enum.class) {
            @Override
            public void serialize(Enum value, com.fasterxml.jackson.core.JsonGenerator gen,
                                  com.fasterxml.jackson.databind.SerializerProvider provider) throws IOException {
                gen.writeString(value.name().toLowerCase(Locale.ROOT).replace('_', '-'));
            }
        });
        m.registerModule(enums);
        return m;
    }

    /** Accepts {@code l2-per-layer}, {@code L2_PER_LAYER} or {@code l2_per_layer}; lists the valid values otherwise. */
    private static final class KebabEnumDeserializer extends JsonDeserializer<Enum<?>> {
        private final Class<?> type;

        KebabEnumDeserializer(Class<?> type) {
            this.type = type;
        }

        @Override
        public Enum<?> deserialize(com.fasterxml.jackson.core.JsonParser p, DeserializationContext ctxt) throws IOException {
            String text = p.getValueAsString();
            List<String> valid = new ArrayList<>();
            for (Object c : type.getEnumConstants()) {
                Enum<?> e = (Enum<?>) c;
                if (text != null && e.name().equalsIgnoreCase(text.trim().replace('-', '_'))) {
                    return e;
                }
                valid.add(e.name().toLowerCase(Locale.ROOT).replace('_', '-'));
            }
            throw com.fasterxml.jackson.databind.exc.InvalidFormatException.from(p,
                    "value " + text + " is not one of " + String.join(", ", valid), text, type);
        }
    }
}

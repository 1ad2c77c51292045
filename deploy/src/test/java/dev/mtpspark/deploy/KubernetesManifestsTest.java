package dev.mtpspark.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.networknt.schema.Error;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SpecificationVersion;
import dev.mtpspark.spark.train.EvaluateCommand;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import picocli.CommandLine;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * deploy/kubernetes: every SparkApplication manifest is valid against the spark-operator CRD's openAPIV3Schema
 * (with Kubernetes' rule that unknown fields are errors), carries the settings every submit needs, and its
 * job arguments pass the job's own parser (--dry-run on real small inputs where the subcommand has one).
 */
class KubernetesManifestsTest {
    static final String CLUSTER_MTP = "hdfs://namenode:8020/mtp/";
    static Schema schema;

    @BeforeAll
    static void loadSchema() {
        Path crd = Deploy.sharedDir().resolve("schemas/sparkoperator.k8s.io_sparkapplications.yaml");
        assertTrue(Files.isRegularFile(crd), "CRD schema not found at " + crd + " (system property mtp.shared.dir)");
        JsonNode openApi = null;
        for (JsonNode v : Deploy.yaml(crd).get("spec").get("versions")) {
            if (v.get("name").asText().equals("v1beta2")) {
                openApi = v.get("schema").get("openAPIV3Schema");
            }
        }
        assertTrue(openApi != null, "the CRD has version v1beta2");
        schema = SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_4).getSchema(toJsonSchema(openApi));
    }

    /**
     * The CRD's structural OpenAPI v3 schema as draft-04 JSON Schema: the x-kubernetes-* extensions and
     * descriptions dropped, and every object with declared properties closed (additionalProperties false) unless
     * it has x-kubernetes-preserve-unknown-fields, which is how the API server treats unknown fields under
     * strict field validation (kubectl's default) instead of pruning them silently.
     */
    static JsonNode toJsonSchema(JsonNode node) {
        if (node.isArray()) {
            var out = JsonNodeFactory.instance.arrayNode();
            node.forEach(n -> out.add(toJsonSchema(n)));
            return out;
        }
        if (!node.isObject()) {
            return node;
        }
        ObjectNode out = JsonNodeFactory.instance.objectNode();
        Iterator<Map.Entry<String, JsonNode>> it = node.fields();
        while (it.hasNext()) {
            Map.Entry<String, JsonNode> e = it.next();
            String k = e.getKey();
            if (k.startsWith("x-kubernetes-") || k.equals("description") || k.equals("nullable")) {
                continue;
            }
            if (k.equals("properties") || k.equals("patternProperties")) {
                ObjectNode props = JsonNodeFactory.instance.objectNode();
                e.getValue().fields().forEachRemaining(p -> props.set(p.getKey(), toJsonSchema(p.getValue())));
                out.set(k, props);
            } else {
                out.set(k, toJsonSchema(e.getValue()));
            }
        }
        boolean preserve = node.path("x-kubernetes-preserve-unknown-fields").asBoolean(false);
        if (node.has("properties") && !node.has("additionalProperties") && !preserve) {
            out.put("additionalProperties", false);
        }
        return out;
    }

    static Stream<Path> manifests() throws IOException {
        Path dir = Deploy.deployDir().resolve("kubernetes");
        List<Path> files = new ArrayList<>();
        try (Stream<Path> s = Files.list(dir)) {
            s.filter(p -> p.getFileName().toString().matches("sparkapplication-.*\\.yaml")).sorted().forEach(files::add);
        }
        assertTrue(files.size() >= 4, "tokenize, train, train-gpu and evaluate manifests: " + files);
        return files.stream();
    }

    static List<String> errors(JsonNode manifest) {
        List<String> out = new ArrayList<>();
        for (Error e : schema.validate(manifest)) {
            out.add(e.toString());
        }
        return out;
    }

    @ParameterizedTest
    @MethodSource("manifests")
    void manifestMatchesTheCrdSchema(Path file) {
        JsonNode m = Deploy.yaml(file);
        assertEquals(List.of(), errors(m), file.getFileName().toString());
        assertEquals("sparkoperator.k8s.io/v1beta2", m.get("apiVersion").asText());
        assertEquals("SparkApplication", m.get("kind").asText());
    }

    @Test
    void schemaCatchesTyposAndBadValues() throws IOException {
        ObjectNode m = (ObjectNode) Deploy.yaml(Deploy.deployDir().resolve("kubernetes/sparkapplication-train-gpu.yaml"));
        ObjectNode executor = (ObjectNode) m.get("spec").get("executor");
        executor.set("gpus", executor.get("gpu"));
        assertFalse(errors(m).isEmpty(), "unknown field spec.executor.gpus must be an error");
        executor.remove("gpus");
        ((ObjectNode) m.get("spec").get("restartPolicy")).put("type", "OnFail");
        assertFalse(errors(m).isEmpty(), "restartPolicy.type OnFail must be an error");
        ((ObjectNode) m.get("spec").get("restartPolicy")).put("type", "OnFailure");
        ((ObjectNode) m.get("spec")).remove("mainApplicationFile");
        assertFalse(errors(m).isEmpty(), "missing mainApplicationFile must be an error");
    }

    @ParameterizedTest
    @MethodSource("manifests")
    void manifestCarriesKryoAuthRetriesAndOffHeapMemory(Path file) {
        JsonNode spec = Deploy.yaml(file).get("spec");
        String name = file.getFileName().toString();
        assertEquals("dev.mtpspark.spark.MtpCli", spec.get("mainClass").asText(), name);
        assertEquals("local:///opt/mtp/mtp-spark-app.jar", spec.get("mainApplicationFile").asText(), name);
        assertTrue(spec.get("sparkVersion").asText().startsWith("3.5."), name);
        JsonNode conf = spec.get("sparkConf");
        assertEquals("org.apache.spark.serializer.KryoSerializer", conf.get("spark.serializer").asText(), name);
        assertEquals("org.nd4j.kryo.Nd4jRegistrator,dev.mtpspark.spark.MtpKryoRegistrator", conf.get("spark.kryo.registrator").asText(), name);
        assertEquals("true", conf.get("spark.authenticate").asText(), name);
        assertFalse(conf.has("spark.authenticate.secret"), name + ": the secret never inline");
        String secretFile = conf.get("spark.authenticate.secret.executor.file").asText();
        assertEquals(secretFile, conf.get("spark.authenticate.secret.driver.file").asText(), name);
        assertEquals("OnFailure", spec.get("restartPolicy").get("type").asText(), name);
        assertTrue(spec.get("restartPolicy").get("onFailureRetries").asInt() >= 1, name);
        for (String role : List.of("driver", "executor")) {
            JsonNode pod = spec.get(role);
            boolean mounted = false;
            for (JsonNode s : pod.path("secrets")) {
                mounted |= s.get("secretType").asText().equals("Generic") && secretFile.startsWith(s.get("path").asText() + "/");
            }
            assertTrue(mounted, name + ": " + role + " mounts the auth Secret at " + secretFile);
            String maxBytes = Deploy.jvmProperty(pod.get("javaOptions").asText(), "org.bytedeco.javacpp.maxbytes");
            assertTrue(maxBytes != null, name + ": " + role + " limits ND4J's off-heap memory");
            assertTrue(Deploy.mib(pod.get("memoryOverhead").asText()) > Deploy.mib(maxBytes),
                    name + ": " + role + " memoryOverhead covers ND4J's off-heap memory");
        }
        if (name.contains("gpu")) {
            JsonNode gpu = spec.get("executor").get("gpu");
            assertEquals("nvidia.com/gpu", gpu.get("name").asText());
            assertEquals(1, gpu.get("quantity").asInt());
            assertEquals("1", conf.get("spark.executor.resource.gpu.amount").asText());
            assertEquals("1", conf.get("spark.task.resource.gpu.amount").asText());
            assertEquals("nvidia.com", conf.get("spark.executor.resource.gpu.vendor").asText());
            assertTrue(conf.get("spark.executor.resource.gpu.discoveryScript").asText().endsWith("getGpusResources.sh"));
            assertTrue(spec.get("image").asText().contains("cuda"), "GPU manifest uses the CUDA image");
        }
    }

    @ParameterizedTest
    @MethodSource("manifests")
    void argumentsPassTheJobsParser(Path file) throws IOException {
        Path root = Deploy.mtpRoot();
        List<String> args = new ArrayList<>();
        for (String a : Deploy.strings(Deploy.yaml(file).get("spec").get("arguments"))) {
            args.add(a.replace(CLUSTER_MTP, root.toUri().toString()));
        }
        String subcommand = args.get(0);
        if (subcommand.equals("evaluate")) {
            assertDoesNotThrow(() -> new CommandLine(new EvaluateCommand()).parseArgs(args.subList(1, args.size()).toArray(String[]::new)));
            return;
        }
        if (subcommand.equals("train")) {
            assertFalse(args.contains("--overwrite"), "operator restarts rely on automatic resume");
        }
        args.add("--dry-run");
        Deploy.Result r = Deploy.run(args);
        assertEquals(0, r.exitCode(), file.getFileName() + ": " + r.output());
    }

    @Test
    void podTemplatesRunAsSparkUserAndMountTheAuthSecret() {
        for (String t : List.of("driver-pod-template.yaml", "executor-pod-template.yaml")) {
            JsonNode pod = Deploy.yaml(Deploy.deployDir().resolve("kubernetes/" + t));
            assertEquals("Pod", pod.get("kind").asText());
            assertEquals(185, pod.get("spec").get("securityContext").get("runAsUser").asInt(), t);
            assertEquals("mtp-spark-auth", pod.get("spec").get("volumes").get(0).get("secret").get("secretName").asText(), t);
            assertEquals("/etc/mtp/spark-auth", pod.get("spec").get("containers").get(0).get("volumeMounts").get(0).get("mountPath").asText(), t);
        }
    }
}

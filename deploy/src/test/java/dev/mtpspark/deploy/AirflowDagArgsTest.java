package dev.mtpspark.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.mtpspark.spark.train.EvaluateCommand;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * deploy/airflow: the DAG's job arguments (mtp_dag_args.yaml), rendered with sample values, pass the job's own
 * parser and validation (tokenize and train --dry-run on real small inputs; evaluate's options through picocli),
 * and mtp_dag.py wires exactly those tasks. No Python or Airflow needed.
 */
class AirflowDagArgsTest {
    static JsonNode spec;
    static Path root;
    static Map<String, String> sample;

    @BeforeAll
    static void setUp() throws IOException {
        spec = Deploy.yaml(Deploy.deployDir().resolve("airflow/mtp_dag_args.yaml"));
        root = Deploy.mtpRoot();
        sample = new HashMap<>();
        spec.get("params").fields().forEachRemaining(e -> sample.put(e.getKey(), e.getValue().get("default").asText()));
        // Local stand-ins for the HDFS paths, and a tokenizer/T/n that fit the tiny test dataset.
        sample.put("corpus", root.resolve("corpora/corpus").toString() + "/");
        sample.put("dataset", root.resolve("datasets/corpus").toString());
        sample.put("train_config", root.resolve("conf/train.yaml").toString());
        sample.put("run_output", root.resolve("runs/airflow").toString());
        sample.put("tokenizer", "char");
        sample.put("context_length", "16");
        sample.put("predicted_tokens", "2");
        sample.put("workers", "2");
        sample.put("ds_nodash", "20260101");
    }

    static List<String> args(String task) {
        List<String> out = new ArrayList<>();
        for (String a : Deploy.strings(spec.get("tasks").get(task).get("args"))) {
            out.add(Deploy.render(a, sample));
        }
        assertEquals(task, out.get(0), "the first argument is the subcommand");
        return out;
    }

    @Test
    void everyParamIsDeclaredAndUsed() {
        Set<String> used = new LinkedHashSet<>();
        Matcher m = Pattern.compile("\\{\\{\\s*params\\.(\\w+)\\s*}}").matcher(spec.get("tasks").toString());
        while (m.find()) {
            used.add(m.group(1));
        }
        Set<String> declared = new LinkedHashSet<>();
        spec.get("params").fieldNames().forEachRemaining(declared::add);
        assertEquals(declared, used, "params declared in mtp_dag_args.yaml vs used by its tasks");
        spec.get("params").forEach(p -> assertTrue(p.hasNonNull("default") && p.hasNonNull("description"), p.toString()));
    }

    @Test
    void tokenizeArgumentsPassTheDryRun() {
        Deploy.Result r = Deploy.run(withDryRun(args("tokenize")));
        assertEquals(0, r.exitCode(), r.output());
    }

    @Test
    void trainArgumentsPassTheDryRunAndResume() {
        List<String> args = args("train");
        assertFalse(args.contains("--overwrite"), "train retries rely on automatic resume: no --overwrite");
        assertFalse(args.contains("--resume"), "the first attempt has no checkpoint: no --resume");
        Deploy.Result r = Deploy.run(withDryRun(args));
        assertEquals(0, r.exitCode(), r.output());
        assertTrue(r.output().contains("training starts at step 0"), r.output());
    }

    @Test
    void evaluateArgumentsParse() {
        List<String> args = args("evaluate");
        assertDoesNotThrow(() -> new CommandLine(new EvaluateCommand()).parseArgs(args.subList(1, args.size()).toArray(String[]::new)));
    }

    @Test
    void dagFileWiresExactlyTheTasksOfTheYaml() throws IOException {
        String py = Files.readString(Deploy.deployDir().resolve("airflow/mtp_dag.py"));
        Matcher m = Pattern.compile("TASKS = \\(([^)]*)\\)").matcher(py);
        assertTrue(m.find(), "mtp_dag.py declares TASKS = (...)");
        List<String> inPy = new ArrayList<>();
        Matcher q = Pattern.compile("\"(\\w+)\"").matcher(m.group(1));
        while (q.find()) {
            inPy.add(q.group(1));
        }
        List<String> inYaml = new ArrayList<>();
        spec.get("tasks").fieldNames().forEachRemaining(inYaml::add);
        assertEquals(inYaml, inPy);
        assertTrue(py.contains("operators[\"tokenize\"] >> operators[\"train\"] >> operators[\"evaluate\"]"), "tokenize >> train >> evaluate");
        assertTrue(py.contains("SparkSubmitOperator(") && py.contains("java_class=\"dev.mtpspark.spark.MtpCli\""), "spark-submit of MtpCli");
        assertTrue(py.contains("mtp_dag_args.yaml"), "arguments come from the YAML");
        Matcher retries = Pattern.compile("\"retries\": (\\d+)").matcher(py);
        int max = 0;
        while (retries.find()) {
            max = Math.max(max, Integer.parseInt(retries.group(1)));
        }
        assertTrue(max >= 2, "train retries");
        assertFalse(py.matches("(?s).*(password|secret|token)\\s*=.*"), "no secrets in the DAG");
    }

    @Test
    void sparkConfCarriesKryoAndOffHeapMemory() {
        JsonNode conf = spec.get("spark").get("conf");
        assertEquals("org.apache.spark.serializer.KryoSerializer", conf.get("spark.serializer").asText());
        assertEquals("org.nd4j.kryo.Nd4jRegistrator,dev.mtpspark.spark.MtpKryoRegistrator", conf.get("spark.kryo.registrator").asText());
        for (String role : List.of("driver", "executor")) {
            String maxBytes = Deploy.jvmProperty(conf.get("spark." + role + ".extraJavaOptions").asText(), "org.bytedeco.javacpp.maxbytes");
            assertTrue(maxBytes != null, role + " sets ND4J's off-heap limit");
            assertTrue(Deploy.mib(conf.get("spark." + role + ".memoryOverhead").asText()) > Deploy.mib(maxBytes),
                    role + " memoryOverhead covers ND4J's off-heap memory");
        }
    }

    static List<String> withDryRun(List<String> args) {
        List<String> out = new ArrayList<>(args);
        out.add("--dry-run");
        return out;
    }
}

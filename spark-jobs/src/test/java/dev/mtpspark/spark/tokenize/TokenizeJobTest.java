package dev.mtpspark.spark.tokenize;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mtpspark.core.data.BpeTokenizer;
import dev.mtpspark.core.data.HuggingFaceTokenizer;
import dev.mtpspark.core.data.Tokenizer;
import dev.mtpspark.core.data.TokenizerFiles;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.zip.GZIPOutputStream;

import static org.junit.jupiter.api.Assertions.*;

/** The tokenize job on Spark local[2]. */
class TokenizeJobTest {
    private static SparkSession spark;
    private static final ObjectMapper JSON = new ObjectMapper();

    @BeforeAll
    static void start() {
        spark = SparkSession.builder().master("local[2]").appName("tokenize-test")
                .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2").getOrCreate();
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    static Path shakespeare() {
        return dev.mtpspark.core.data.SharedCorpora.tinyShakespeare();
    }

    private static TokenizeConfig config(List<String> inputs, String output, String... args) {
        String[] all = new String[args.length + 4 + 2 * inputs.size()];
        int i = 0;
        for (String in : inputs) {
            all[i++] = "--input";
            all[i++] = in;
        }
        all[i++] = "--output";
        all[i++] = output;
        all[i++] = "--partitions";
        all[i++] = "2";
        System.arraycopy(args, 0, all, i, args.length);
        TokenizeCommand cmd = new TokenizeCommand();
        new picocli.CommandLine(cmd).parseArgs(all);
        return cmd.config();
    }

    private static JsonNode manifest(Path out) throws IOException {
        return JSON.readTree(out.resolve(TokenizeJob.MANIFEST).toFile());
    }

    @Test
    void charLevelShakespeareGivesNanoGptsSplitAndExactWindowCounts(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("shakespeare-char");
        TokenizeJob.run(spark, config(List.of(shakespeare().toString()), out.toString(), "--tokenizer", "char",
                "--context-length", "64", "--predicted-tokens", "4"));
        JsonNode m = manifest(out);
        assertEquals(65, m.at("/tokenizer/vocabSize").asInt());
        assertEquals(-1, m.at("/tokenizer/eosId").asInt());
        assertEquals("contiguous", m.at("/split/method").asText());
        assertEquals(1_003_854, m.at("/splits/train/tokens").asLong());
        assertEquals(111_540, m.at("/splits/validation/tokens").asLong());
        assertEquals((1_003_854 - 4) / 64, m.at("/splits/train/windows").asLong());
        assertEquals((111_540 - 4) / 64, m.at("/splits/validation/windows").asLong());
        assertEquals(Files.size(shakespeare()), m.at("/sources/0/bytes").asLong());
        assertEquals(64, m.at("/sources/0/sha256").asText().length());

        Dataset<Row> data = TokenizedDataset.windows(spark, out.toString());
        assertEquals(m.at("/splits/train/windows").asLong(), data.where("split = 'train'").count());
        assertEquals(m.at("/splits/validation/windows").asLong(), data.where("split = 'validation'").count());
        Tokenizer tokenizer = TokenizerFiles.fromJson("char", Files.readString(out.resolve("tokenizer.json")), null);
        String text = Files.readString(shakespeare());
        // Windows start every T tokens and overlap by n: window i is text[64 i, 64 i + 68).
        for (Row row : data.where("split = 'train'").collectAsList()) {
            int[] ids = row.getList(0).stream().mapToInt(o -> (Integer) o).toArray();
            assertEquals(68, ids.length);
        }
        Row first = data.where("split = 'validation'").limit(1).collectAsList().get(0);
        String decoded = tokenizer.decode(first.getList(0).stream().mapToInt(o -> (Integer) o).toArray());
        assertTrue(text.substring(1_003_854).contains(decoded), "validation windows come from the last 10%");
    }

    @Test
    void multiDocumentCorpusWithCompressionAndBadJsonIsCountedAndReported(@TempDir Path dir) throws Throwable {
        Path corpus = Files.createDirectories(dir.resolve("corpus"));
        StringBuilder jsonl = new StringBuilder();
        for (int i = 0; i < 300; i++) {
            jsonl.append("{\"text\": \"document ").append(i).append(" says hello to the world, again and again.\"}\n");
        }
        jsonl.append("{\"body\": \"no text field\"}\n");          // line 301
        jsonl.append("{\"text\": 42}\n");                            // line 302
        jsonl.append("not json at all\n");                           // line 303
        Files.writeString(corpus.resolve("a.jsonl"), jsonl);
        try (OutputStream gz = new GZIPOutputStream(Files.newOutputStream(corpus.resolve("b.jsonl.gz")))) {
            gz.write("{\"text\": \"compressed document \\u00e9\"}\n".repeat(50).getBytes(StandardCharsets.UTF_8));
        }
        Files.write(corpus.resolve("empty.jsonl"), new byte[0]);
        Path out = dir.resolve("out");
        List<String> progress = progressLinesOf(() -> TokenizeJob.run(spark, config(List.of(corpus.toString()),
                out.toString(), "--format", "jsonl", "--tokenizer", "byte", "--context-length", "16", "--predicted-tokens", "2")));
        // The pass's last line is always logged (the listener bus delivers task ends after the job returns).
        assertFalse(progress.isEmpty(), "no progress line");
        String last = progress.get(progress.size() - 1);
        assertTrue(last.matches("tokenize: (\\d+)/\\1 tasks, .* \\(100%\\), .* MB/s, ETA 0 s; .* task-seconds, .* MB/s per core"), last);
        JsonNode m = manifest(out);
        assertEquals("document-hash", m.at("/split/method").asText());
        assertEquals(350, m.at("/splits/train/documents").asLong() + m.at("/splits/validation/documents").asLong());
        assertTrue(m.at("/splits/validation/documents").asLong() > 10, "about 10% of 350 documents in validation");
        assertEquals(1, m.at("/inputProblems/zeroByteFilesSkipped").asInt());
        assertEquals(1, m.at("/inputProblems/jsonMissingField").asInt());
        assertEquals(1, m.at("/inputProblems/jsonNonStringField").asInt());
        assertEquals(1, m.at("/inputProblems/jsonMalformedLines").asInt());
        assertTrue(m.at("/inputProblems/firstJsonProblem").asText().endsWith("a.jsonl:301: no field \"text\""),
                m.at("/inputProblems/firstJsonProblem").asText());
        assertEquals(2, m.at("/sources").size());

        // Deterministic: the same corpus gives the same split.
        Path again = dir.resolve("again");
        TokenizeJob.run(spark, config(List.of(corpus.toString()), again.toString(), "--format", "jsonl",
                "--tokenizer", "byte", "--context-length", "16", "--predicted-tokens", "2"));
        assertEquals(m.at("/splits"), manifest(again).at("/splits"));
    }

    @Test
    void bpeTrainedBySparkLoadsInHuggingFaceTokenizersWithTheSameIds(@TempDir Path dir) throws Exception {
        Path slice = dir.resolve("slice.txt");
        // Special tokens in the corpus: encoded whole, never merged into the text around them.
        String text = Files.readString(shakespeare()).substring(0, 120_000).replace("\n\n", "\n<|sep|>\n");
        Files.writeString(slice, text);
        Path out = dir.resolve("bpe");
        TokenizeJob.run(spark, config(List.of(slice.toString()), out.toString(), "--tokenizer", "bpe",
                "--bpe-vocab-size", "300", "--bpe-special-tokens", "<|sep|>,<|pad|>", "--context-length", "32", "--predicted-tokens", "2"));
        JsonNode m = manifest(out);
        assertEquals(300, m.at("/tokenizer/vocabSize").asInt());
        assertEquals(297, m.at("/tokenizer/eosId").asInt());
        assertEquals("[\"<|sep|>\",\"<|pad|>\"]", m.at("/tokenizer/specialTokens").toString());
        String json = Files.readString(out.resolve("tokenizer.json"));
        BpeTokenizer ours = BpeTokenizer.fromHuggingFaceJson(json);
        HuggingFaceTokenizer hf = new HuggingFaceTokenizer(json, BpeTokenizer.EOS_TOKEN);
        String sample = text.substring(0, 20_000);
        assertArrayEquals(ours.encode(sample), hf.encodeText(sample));
        assertTrue(java.util.Arrays.stream(ours.encode(sample)).anyMatch(id -> id == 298), "<|sep|> is id 298");
        // Same merges as the single-machine trainer: distributed pair counting changes nothing.
        java.util.Map<String, Long> counts = new java.util.HashMap<>();
        var counter = dev.mtpspark.core.data.BpeTrainer.preTokenCounter(counts, List.of("<|sep|>", "<|pad|>"));
        byte[] bytes = text.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        counter.write(bytes, 0, bytes.length);
        counter.finish();
        assertEquals(dev.mtpspark.core.data.BpeTrainer.train(counts, 298).withSpecialTokens(List.of("<|sep|>", "<|pad|>"))
                .toHuggingFaceJson(), json);

        // The trained vocabulary reused for another dataset (--tokenizer-file): no training, the same ids.
        Path again = dir.resolve("bpe-again");
        TokenizeJob.run(spark, config(List.of(slice.toString()), again.toString(), "--tokenizer", "bpe",
                "--tokenizer-file", out.resolve("tokenizer.json").toString(), "--context-length", "32", "--predicted-tokens", "2"));
        assertEquals(json, Files.readString(again.resolve("tokenizer.json")));
        assertEquals(m.at("/splits"), manifest(again).at("/splits"));
        assertBad("--bpe-special-tokens cannot be combined with --tokenizer-file", "--input", slice.toString(), "--output",
                dir.resolve("x").toString(), "--tokenizer", "bpe", "--tokenizer-file", out.resolve("tokenizer.json").toString(),
                "--bpe-special-tokens", "<a>");
        assertBad("model.type must be BPE", "--input", slice.toString(), "--output", dir.resolve("x").toString(),
                "--tokenizer", "bpe", "--tokenizer-file", Files.writeString(dir.resolve("wp.json"), "{\"model\":{\"type\":\"WordPiece\"}}").toString());
    }

    @Test
    void badInputFailsWithAClearMessageAndWritesNothing(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("out");
        assertBad("input path does not exist: " + dir.resolve("missing"),
                "--input", dir.resolve("missing").toString(), "--output", out.toString());
        Path empty = Files.write(dir.resolve("empty.txt"), new byte[0]);
        assertBad("empty corpus: all 1 input files are empty (zero bytes)", "--input", empty.toString(), "--output", out.toString());
        Path tiny = Files.writeString(dir.resolve("tiny.txt"), "too short");
        assertBad("corpus shorter than one window", "--input", tiny.toString(), "--output", out.toString());
        assertBad("--tokenizer = wordpiece is invalid: valid values are byte, char, bpe, huggingface",
                "--input", tiny.toString(), "--output", out.toString(), "--tokenizer", "wordpiece");
        assertBad("--bpe-special-tokens: '<a>' is invalid: each token must be non-blank, listed once", "--input", tiny.toString(),
                "--output", out.toString(), "--tokenizer", "bpe", "--bpe-special-tokens", "<a>,<a>");
        assertBad("--context-length = 0 is invalid", "--input", tiny.toString(), "--output", out.toString(), "--context-length", "0");
        assertFalse(Files.exists(out), "a failed job leaves no output");
        try (var listing = Files.list(dir)) {
            assertTrue(listing.noneMatch(p -> p.getFileName().toString().contains(".tmp-")), "no temporary directory is left");
        }

        Files.createDirectories(out);
        assertBad("already exists; pass --overwrite to replace it", "--input", shakespeare().toString(), "--output", out.toString());
    }

    @Test
    void parquetWithoutTheColumnIsRejectedByName(@TempDir Path dir) throws Exception {
        Path parquet = dir.resolve("docs.parquet");
        spark.createDataFrame(List.of(new Doc("hello world")), Doc.class).write().parquet(parquet.toString());
        assertBad("has no column \"text\" (columns: body)", "--input", parquet.toString(), "--format", "parquet",
                "--output", dir.resolve("out").toString());
    }

    @Test
    void parquetBzip2InvalidUtf8HuggingFaceAndOverwrite(@TempDir Path dir) throws Exception {
        // Parquet input with a null and an empty value, encoded with a Hugging Face tokenizer.json.
        Path parquet = dir.resolve("docs.parquet");
        List<Text> rows = new java.util.ArrayList<>();
        for (int i = 0; i < 200; i++) {
            rows.add(new Text("parquet document number " + i + " with some words in it."));
        }
        rows.add(new Text(null));
        rows.add(new Text(""));
        spark.createDataFrame(rows, Text.class).repartition(2).write().parquet(parquet.toString());
        String text = Files.readString(shakespeare()).substring(0, 50_000);
        Path tokenizerFile = Files.writeString(dir.resolve("tokenizer.json"),
                dev.mtpspark.core.data.BpeTrainer.train(dev.mtpspark.core.data.BpeTrainer.preTokenCounts(text), 280).toHuggingFaceJson());
        Path out = dir.resolve("out");
        TokenizeJob.run(spark, config(List.of(parquet.toString()), out.toString(), "--format", "parquet",
                "--tokenizer", "huggingface", "--tokenizer-file", tokenizerFile.toString(), "--eos-token", BpeTokenizer.EOS_TOKEN,
                "--context-length", "16", "--predicted-tokens", "2"));
        JsonNode m = manifest(out);
        assertEquals("huggingface", m.at("/tokenizer/type").asText());
        assertEquals(279, m.at("/tokenizer/eosId").asInt());
        assertEquals(200, m.at("/splits/train/documents").asLong() + m.at("/splits/validation/documents").asLong());
        assertEquals(1, m.at("/inputProblems/nullValues").asInt());

        // bzip2-compressed text with invalid UTF-8, one document per paragraph; replaces the dataset above.
        Path bz = dir.resolve("corpus.txt.bz2");
        org.apache.hadoop.io.compress.BZip2Codec codec = new org.apache.hadoop.io.compress.BZip2Codec();
        codec.setConf(new org.apache.hadoop.conf.Configuration());
        try (OutputStream o = codec.createOutputStream(Files.newOutputStream(bz))) {
            for (int i = 0; i < 40; i++) {
                o.write(("paragraph " + i + " line one\nline two \u00e9\n\n").getBytes(StandardCharsets.UTF_8));
                o.write(new byte[] {(byte) 0xFF, 'x', '\n', '\n'});
            }
        }
        TokenizeJob.run(spark, config(List.of(bz.toString()), out.toString(), "--text-mode", "paragraph",
                "--tokenizer", "char", "--context-length", "8", "--predicted-tokens", "2", "--overwrite"));
        m = manifest(out);
        assertEquals("char", m.at("/tokenizer/type").asText(), "--overwrite replaced the dataset");
        assertEquals(80, m.at("/splits/train/documents").asLong() + m.at("/splits/validation/documents").asLong());
        assertEquals(40, m.at("/inputProblems/replacedInvalidUtf8Sequences").asInt());
        try (var listing = Files.list(dir)) {
            assertTrue(listing.noneMatch(p -> p.getFileName().toString().startsWith(".out.")), "no temporary or old directory left");
        }
    }

    /** A row with a {@code text} column. */
    public static final class Text implements java.io.Serializable {
        private String text;

        public Text() {
        }

        Text(String text) {
            this.text = text;
        }

        public String getText() { return text; }
        public void setText(String text) { this.text = text; }
    }

    /** A row with a {@code body} column. */
    public static final class Doc implements java.io.Serializable {
        private String body;

        public Doc() {
        }

        Doc(String body) {
            this.body = body;
        }

        public String getBody() { return body; }
        public void setBody(String body) { this.body = body; }
    }

    /** What {@link TaskProgress} logs while {@code job} runs. */
    private static List<String> progressLinesOf(org.junit.jupiter.api.function.Executable job) throws Throwable {
        List<String> lines = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
        var appender = new org.apache.logging.log4j.core.appender.AbstractAppender("progress-test", null, null, true,
                org.apache.logging.log4j.core.config.Property.EMPTY_ARRAY) {
            @Override
            public void append(org.apache.logging.log4j.core.LogEvent event) {
                lines.add(event.getMessage().getFormattedMessage());
            }
        };
        appender.start();
        var logger = (org.apache.logging.log4j.core.Logger) org.apache.logging.log4j.LogManager.getLogger(TaskProgress.class);
        logger.addAppender(appender);
        try {
            job.execute();
        } finally {
            logger.removeAppender(appender);
            appender.stop();
        }
        return List.copyOf(lines);
    }

    private static void assertBad(String messagePart, String... args) {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        picocli.CommandLine cl = new picocli.CommandLine(new TokenizeCommand());
        cl.setErr(new java.io.PrintWriter(err, true));
        // Run inside this JVM's Spark session (the command would otherwise create and stop its own).
        int status;
        try {
            TokenizeCommand cmd = new TokenizeCommand();
            new picocli.CommandLine(cmd).parseArgs(args);
            TokenizeJob.run(spark, cmd.config());
            status = 0;
        } catch (BadInputException e) {
            new PrintStream(err, true).println("error: " + e.getMessage());
            status = 2;
        } catch (Exception e) {
            throw new AssertionError(e);
        }
        assertEquals(2, status, "expected a bad-input failure: " + messagePart);
        assertTrue(err.toString().contains(messagePart), err.toString());
    }
}

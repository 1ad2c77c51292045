package dev.mtpspark.spark.tokenize;

import dev.mtpspark.core.data.ByteTokenizer;
import dev.mtpspark.core.data.Tokenizer;

import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The content of a dataset's {@code manifest.json} (docs/data.md, "manifest.json"), without its shard list. */
final class DatasetManifest {
    private DatasetManifest() {
    }

    static Map<String, Object> build(TokenizeConfig config, Tokenizer tokenizer, List<SourceFile> files,
                                                int zeroByteFiles, TokenizeStats stats, boolean contiguous, long boundary) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("format", "mtp-spark-dataset/1");
        m.put("projectVersion", DatasetManifest.class.getPackage().getImplementationVersion() == null
                ? "development" : DatasetManifest.class.getPackage().getImplementationVersion());
        m.put("created", Instant.now().toString());
        Map<String, Object> tok = new LinkedHashMap<>();
        tok.put("type", tokenizer.type());
        tok.put("file", TokenizeJob.TOKENIZER_FILE);
        tok.put("vocabSize", tokenizer.vocabSize());
        tok.put("eosId", tokenizer.eosId());
        if (tokenizer instanceof ByteTokenizer) {
            tok.put("padId", ByteTokenizer.PAD);
        }
        if (tokenizer instanceof dev.mtpspark.core.data.BpeTokenizer bpe && !bpe.specialTokens().isEmpty()) {
            tok.put("specialTokens", bpe.specialTokens());   // ids eosId + 1, eosId + 2, … in this order
        }
        if (config.eosToken() != null) {
            tok.put("eosToken", config.eosToken());
        }
        m.put("tokenizer", tok);
        m.put("contextLength", config.contextLength());
        m.put("predictedTokens", config.predictedTokens());
        m.put("windowLength", config.windowLength());
        m.put("stride", config.contextLength());
        m.put("columns", Map.of("tokens", "array<int> of windowLength token ids", "split", "partition directory split=<name>"));
        Map<String, Object> split = new LinkedHashMap<>();
        split.put("method", contiguous ? "contiguous" : "document-hash");
        split.put("validationFraction", config.validationFraction());
        if (contiguous) {
            split.put("validationStartsAtCharacter", boundary);
        }
        m.put("split", split);
        Map<String, Object> splits = new LinkedHashMap<>();
        for (int s = 0; s < 2; s++) {
            Map<String, Object> c = new LinkedHashMap<>();
            c.put("documents", stats.documents(s));
            c.put("tokens", stats.tokens(s));
            c.put("windows", stats.windows(s));
            c.put("tailTokensNotInAnyWindow", stats.tailTokens(s));
            splits.put(TokenizeStats.SPLITS[s], c);
        }
        m.put("splits", splits);
        List<Map<String, Object>> sources = new ArrayList<>();
        for (SourceFile f : files) {
            Map<String, Object> s = new LinkedHashMap<>();
            s.put("path", f.path());
            s.put("bytes", f.size());
            s.put("sha256", stats.checksums.get(f.path()));
            sources.add(s);
        }
        m.put("sources", sources);
        Map<String, Object> problems = new LinkedHashMap<>();
        problems.put("zeroByteFilesSkipped", zeroByteFiles);
        problems.putAll(stats.problems());
        m.put("inputProblems", problems);
        m.put("job", configMap(config));
        return m;
    }

    private static Map<String, Object> configMap(TokenizeConfig c) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (var component : TokenizeConfig.class.getRecordComponents()) {
            try {
                Object v = component.getAccessor().invoke(c);
                m.put(component.getName(), v instanceof Enum<?> e ? e.name().toLowerCase() : v);
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException(e);
            }
        }
        return m;
    }
}

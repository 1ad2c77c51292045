package dev.mtpspark.spark.tokenize;

import dev.mtpspark.core.data.DocumentReader.TextMode;

import java.io.Serializable;
import java.util.List;

/**
 * Validated settings of the tokenize job. Keys are the command-line option names, which every error names.
 *
 * @param inputs             paths, directories or globs on any Hadoop file system
 * @param format             text, JSON lines or Parquet
 * @param textMode           for text: a document per file, per line, or per blank-line-separated paragraph
 * @param jsonField          for JSON lines: the field holding the text
 * @param parquetColumn      for Parquet: the string column holding the text
 * @param tokenizer          byte, char, bpe (trained here) or huggingface (an existing tokenizer.json)
 * @param bpeVocabSize       for bpe: vocabulary size including the 256 bytes and {@code <|endoftext|>}
 * @param bpeMinFrequency    for bpe: the fewest occurrences of a pair that is still merged (≥ 2)
 * @param bpeSpecialTokens   for bpe: tokens encoded whole, ids after {@code <|endoftext|>} (within bpeVocabSize)
 * @param tokenizerFile      for huggingface: path of the tokenizer.json; for bpe: a vocabulary trained before (null: train one)
 * @param eosToken           for huggingface: the token placed between documents (null for none)
 * @param contextLength      T
 * @param predictedTokens    n; windows hold T + n tokens
 * @param validationFraction share of the corpus in the validation split, in [0, 1)
 * @param split              how documents are assigned to splits
 * @param output             dataset directory to create
 * @param overwrite          replace an existing output directory
 * @param partitions         upper bound on the number of Spark tasks reading files
 * @param splitBytes         target input bytes per task (files are packed into splits of about this size)
 */
public record TokenizeConfig(
        List<String> inputs,
        InputFormat format,
        TextMode textMode,
        String jsonField,
        String parquetColumn,
        TokenizerType tokenizer,
        int bpeVocabSize,
        int bpeMinFrequency,
        List<String> bpeSpecialTokens,
        String tokenizerFile,
        String eosToken,
        int contextLength,
        int predictedTokens,
        double validationFraction,
        SplitMode split,
        String output,
        boolean overwrite,
        int partitions,
        long splitBytes) implements Serializable {

    public enum InputFormat { TEXT, JSONL, PARQUET }

    public enum TokenizerType { BYTE, CHAR, BPE, HUGGINGFACE }

    /** AUTO: contiguous for one text file read as one document (nanoGPT), document hash otherwise. */
    public enum SplitMode { AUTO, CONTIGUOUS, DOCUMENT_HASH }

    public TokenizeConfig {
        inputs = List.copyOf(inputs);
        bpeSpecialTokens = bpeSpecialTokens == null ? List.of() : List.copyOf(bpeSpecialTokens);
        if (inputs.isEmpty()) {
            throw new BadInputException("--input: at least one input path is required");
        }
        if (contextLength < 1) {
            throw new BadInputException("--context-length = " + contextLength + " is invalid: must be ≥ 1");
        }
        if (predictedTokens < 1 || predictedTokens > 64) {
            throw new BadInputException("--predicted-tokens = " + predictedTokens + " is invalid: must be in [1, 64]");
        }
        if (!(validationFraction >= 0 && validationFraction < 1)) {
            throw new BadInputException("--validation-fraction = " + validationFraction + " is invalid: must be in [0, 1)");
        }
        if (bpeMinFrequency < 2) {
            throw new BadInputException("--bpe-min-frequency = " + bpeMinFrequency + " is invalid: must be ≥ 2 (a pair seen once saves nothing)");
        }
        if (tokenizer == TokenizerType.BPE && bpeVocabSize < 258 + bpeSpecialTokens.size()) {
            throw new BadInputException("--bpe-vocab-size = " + bpeVocabSize + " is invalid: must be ≥ " + (258 + bpeSpecialTokens.size())
                    + " (256 bytes, one merge, <|endoftext|>" + (bpeSpecialTokens.isEmpty() ? "" : ", " + bpeSpecialTokens.size()
                    + " special tokens") + ")");
        }
        if (tokenizerFile != null && tokenizer != TokenizerType.HUGGINGFACE && tokenizer != TokenizerType.BPE) {
            throw new BadInputException("--tokenizer-file is for --tokenizer huggingface or bpe, not " + tokenizer.name().toLowerCase());
        }
        if (tokenizerFile != null && tokenizer == TokenizerType.BPE && !bpeSpecialTokens.isEmpty()) {
            throw new BadInputException("--bpe-special-tokens cannot be combined with --tokenizer-file: the file's vocabulary "
                    + "(its added_tokens) is used as it is");
        }
        if (!bpeSpecialTokens.isEmpty() && tokenizer != TokenizerType.BPE) {
            throw new BadInputException("--bpe-special-tokens is only for --tokenizer bpe (a huggingface tokenizer.json lists its own)");
        }
        java.util.Set<String> seen = new java.util.HashSet<>();
        for (String t : bpeSpecialTokens) {
            if (t == null || t.isBlank() || t.equals(dev.mtpspark.core.data.BpeTokenizer.EOS_TOKEN) || !seen.add(t)) {
                throw new BadInputException("--bpe-special-tokens: '" + t + "' is invalid: each token must be non-blank, listed once, "
                        + "and not " + dev.mtpspark.core.data.BpeTokenizer.EOS_TOKEN + " (always present)");
            }
        }
        if (tokenizer == TokenizerType.HUGGINGFACE && (tokenizerFile == null || tokenizerFile.isBlank())) {
            throw new BadInputException("--tokenizer-file is required with --tokenizer huggingface");
        }
        if (format == InputFormat.JSONL && (jsonField == null || jsonField.isBlank())) {
            throw new BadInputException("--json-field must name the text field for --format jsonl");
        }
        if (format == InputFormat.PARQUET && (parquetColumn == null || parquetColumn.isBlank())) {
            throw new BadInputException("--parquet-column must name the text column for --format parquet");
        }
        if (output == null || output.isBlank()) {
            throw new BadInputException("--output is required");
        }
        if (splitBytes < 1) {
            throw new BadInputException("--split-bytes = " + splitBytes + " is invalid: must be ≥ 1");
        }
        if (partitions < 1) {
            throw new BadInputException("--partitions = " + partitions + " is invalid: must be ≥ 1");
        }
    }

    /** The same settings with {@code overwrite} set as given. */
    public TokenizeConfig withOverwrite(boolean replace) {
        return new TokenizeConfig(inputs, format, textMode, jsonField, parquetColumn, tokenizer, bpeVocabSize, bpeMinFrequency,
                bpeSpecialTokens, tokenizerFile, eosToken, contextLength, predictedTokens, validationFraction, split, output, replace,
                partitions, splitBytes);
    }

    public int windowLength() {
        return contextLength + predictedTokens;
    }
}

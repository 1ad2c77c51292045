#!/usr/bin/env bash
# Fetches a benchmark corpus from the package registries at run time (never committed) into target/corpora/, once.
# Usage: benchmarks/corpora.sh <name>...   (from anywhere; paths are relative to the repository root)
#   jdk-src   java.base's java.lang, java.util, java.io and java.time sources (834 files, 21 MB) from Debian's
#             openjdk-17-source package, plus target/corpora/jdk-src.txt (the same files concatenated, sorted)
#   jdk-all   every module of that package's lib/src.zip (about 15,000 files, 200 MB)
#   jdk-all-x3  jdk-all three times over (hard links, no extra disk: 607 MB), so that the tasks of the byte, char and
#             reused-BPE jobs run long enough on two cores for the JIT's and Spark's start to stop mattering (the
#             repetition makes no difference to these tokenizers; it would to BPE *training*, which uses jdk-all)
#   linux-src the Linux kernel's source tree from Debian's linux-source-6.1 package (about 78,000 files, 1.3 GB of C,
#             headers, scripts and documentation): a corpus of gigabyte scale, none of it repeated
#   linux-src-x3  linux-src three times over in hard links (4 GB), for the process's fixed costs to amortize
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p target/corpora

unpack_src_zip() {   # target-dir [zip entry patterns…]: downloads the package, unzips its src.zip, renames at the end
  local dir="$1"; shift
  [ -d "$dir" ] && return 0
  local tmp; tmp="$(mktemp -d)"
  (cd "$tmp" && apt-get download openjdk-17-source >/dev/null)
  dpkg-deb -x "$tmp"/openjdk-17-source_*.deb "$tmp/deb"
  rm -rf "$dir.partial" && mkdir -p "$dir.partial"
  unzip -q "$(find "$tmp/deb" -name src.zip | head -1)" "$@" -d "$dir.partial"
  rm -rf "$tmp"
  mv "$dir.partial" "$dir"
}

for name in "$@"; do
  case "$name" in
    jdk-src)
      unpack_src_zip target/corpora/jdk-src 'java.base/java/util/*' 'java.base/java/lang/*' 'java.base/java/io/*' \
        'java.base/java/time/*'
      if [ ! -f target/corpora/jdk-src.txt ]; then
        find target/corpora/jdk-src -name '*.java' | sort | xargs cat > target/corpora/jdk-src.txt.partial
        mv target/corpora/jdk-src.txt.partial target/corpora/jdk-src.txt
      fi ;;
    jdk-all) unpack_src_zip target/corpora/jdk-all ;;
    jdk-all-x3)
      unpack_src_zip target/corpora/jdk-all
      if [ ! -d target/corpora/jdk-all-x3 ]; then
        rm -rf target/corpora/jdk-all-x3.partial && mkdir -p target/corpora/jdk-all-x3.partial
        for copy in 1 2 3; do cp -al target/corpora/jdk-all "target/corpora/jdk-all-x3.partial/$copy"; done
        mv target/corpora/jdk-all-x3.partial target/corpora/jdk-all-x3
      fi ;;
    linux-src)
      if [ ! -d target/corpora/linux-src ]; then
        tmp="$(mktemp -d)"
        (cd "$tmp" && apt-get download linux-source-6.1 >/dev/null)
        dpkg-deb -x "$tmp"/linux-source-6.1_*.deb "$tmp/deb"
        rm -rf target/corpora/linux-src.partial && mkdir -p target/corpora/linux-src.partial
        tar -xJf "$tmp"/deb/usr/src/linux-source-6.1.tar.xz -C target/corpora/linux-src.partial
        rm -rf "$tmp"
        mv target/corpora/linux-src.partial target/corpora/linux-src
      fi ;;
    linux-src-x3)
      "$0" linux-src
      if [ ! -d target/corpora/linux-src-x3 ]; then
        rm -rf target/corpora/linux-src-x3.partial && mkdir -p target/corpora/linux-src-x3.partial
        for copy in 1 2 3; do cp -al target/corpora/linux-src "target/corpora/linux-src-x3.partial/$copy"; done
        mv target/corpora/linux-src-x3.partial target/corpora/linux-src-x3
      fi ;;
    *) echo "error: unknown corpus '$name' (valid: jdk-src, jdk-all, jdk-all-x3, linux-src, linux-src-x3)" >&2; exit 2 ;;
  esac
done

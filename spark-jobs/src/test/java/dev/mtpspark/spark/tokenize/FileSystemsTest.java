package dev.mtpspark.spark.tokenize;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The job reaches every advertised scheme through the Hadoop FileSystem API (no network needed here). */
class FileSystemsTest {

    @Test
    void s3aAndHdfsSchemesResolveToTheirFileSystems() throws Exception {
        Configuration conf = new Configuration();
        conf.set("fs.s3a.endpoint", "http://127.0.0.1:9");            // never contacted: no call is made
        FileSystem s3 = new Path("s3a://mtp-spark-test-bucket/corpus/").getFileSystem(conf);
        assertEquals("org.apache.hadoop.fs.s3a.S3AFileSystem", s3.getClass().getName());
        s3.close();
        assertEquals("org.apache.hadoop.hdfs.DistributedFileSystem",
                FileSystem.getFileSystemClass("hdfs", conf).getName());
    }
}

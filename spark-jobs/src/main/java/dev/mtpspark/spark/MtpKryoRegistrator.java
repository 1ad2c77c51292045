package dev.mtpspark.spark;

import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.serializers.JavaSerializer;
import org.apache.spark.serializer.KryoRegistrator;

/**
 * Kryo set-up for the project's own types; used together with ND4J's {@code Nd4jRegistrator}
 * ({@code spark.kryo.registrator=org.nd4j.kryo.Nd4jRegistrator,dev.mtpspark.spark.MtpKryoRegistrator}).
 *
 * <p>Kryo 4's field serializer cannot create Java records (no no-argument constructor, final fields), so every
 * record — source-file lists, BPE word counts, statistics — is written with Java serialization instead.
 */
public final class MtpKryoRegistrator implements KryoRegistrator {
    public static final String ND4J = "org.nd4j.kryo.Nd4jRegistrator";

    /**
     * Every class the jobs ship between driver and executors (task results, shuffled and collected values,
     * broadcasts), registered so that {@code spark.kryo.registrationRequired=true} works; found by running every
     * job with it (SparkClusterIT does, and KryoRegistrationTest in local mode).
     */
    static final String[] SHIPPED = {
            "java.util.ArrayList",
            "org.datavec.spark.util.SerializableHadoopConfig",
            "org.deeplearning4j.spark.impl.paramavg.aggregator.ParameterAveragingAggregationTuple",
            "dev.mtpspark.core.train.WarmupCosineSchedule",
            "org.nd4j.linalg.learning.config.Adam",
            "dev.mtpspark.core.config.PositionalEncoding",
            "dev.mtpspark.core.config.NormType",
            "dev.mtpspark.core.model.BlockSpec",
            "org.nd4j.linalg.schedule.FixedSchedule",
            "org.nd4j.linalg.learning.regularization.WeightDecay",
            "org.deeplearning4j.nn.conf.layers.samediff.SDLayerParams",
            "dev.mtpspark.core.config.HeadArchitecture",
            "org.deeplearning4j.nn.conf.GradientNormalization",
            "dev.mtpspark.core.model.MtpNetworkLayer",
            "org.deeplearning4j.nn.conf.graph.LayerVertex",
            "java.util.LinkedHashMap",
            "org.deeplearning4j.nn.conf.WorkspaceMode",
            "org.deeplearning4j.nn.api.OptimizationAlgorithm",
            "org.deeplearning4j.nn.conf.NeuralNetConfiguration",
            "org.nd4j.linalg.api.buffer.DataType",
            "org.deeplearning4j.nn.conf.CacheMode",
            "org.deeplearning4j.nn.conf.BackpropType",
            "org.deeplearning4j.nn.conf.ComputationGraphConfiguration",
            "java.util.concurrent.atomic.AtomicInteger",
            "org.deeplearning4j.spark.api.worker.NetBroadcastTuple",
            "org.nd4j.linalg.api.ndarray.INDArray[]",
            "org.nd4j.linalg.dataset.MultiDataSet",
            "java.util.HashMap",
            "dev.mtpspark.core.stats.HorizonStats",
            "org.apache.spark.sql.types.ArrayType",
            "dev.mtpspark.spark.train.BackendProbe$Backend",
            "java.util.TreeMap",
            "dev.mtpspark.spark.tokenize.TokenizeStats",
            "dev.mtpspark.spark.tokenize.TokenizeJob$CharVocabulary",
            "dev.mtpspark.spark.tokenize.SourceFile",
    };

    @Override
    public void registerClasses(Kryo kryo) {
        kryo.addDefaultSerializer(Record.class, new JavaSerializer());
        for (String name : SHIPPED) {
            try {
                kryo.register(type(name));
            } catch (ClassNotFoundException e) {
                throw new IllegalStateException("MtpKryoRegistrator lists " + name + ", which is not on the class path", e);
            }
        }
    }

    /** A class by name; {@code X[]} is the array of X, as Kryo's messages name arrays. */
    private static Class<?> type(String name) throws ClassNotFoundException {
        if (name.endsWith("[]")) {
            return java.lang.reflect.Array.newInstance(type(name.substring(0, name.length() - 2)), 0).getClass();
        }
        return switch (name) {
            case "int" -> int.class;
            case "long" -> long.class;
            case "double" -> double.class;
            case "float" -> float.class;
            case "byte" -> byte.class;
            case "boolean" -> boolean.class;
            default -> Class.forName(name, false, MtpKryoRegistrator.class.getClassLoader());
        };
    }

    /** The registrator list with ND4J's and ours present, keeping any the user configured. */
    public static String withOurs(String configured) {
        String list = configured == null || configured.isBlank() ? ND4J : configured;
        if (!list.contains(MtpKryoRegistrator.class.getName())) {
            list = list + "," + MtpKryoRegistrator.class.getName();
        }
        return list;
    }
}

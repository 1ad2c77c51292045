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

    @Override
    public void registerClasses(Kryo kryo) {
        kryo.addDefaultSerializer(Record.class, new JavaSerializer());
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

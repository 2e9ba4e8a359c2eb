import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import org.apache.kafka.clients.producer.internals.BuiltInPartitioner;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Kafka's own Java producer partitioner for keyed records: reads one key per line (UTF-8) and
 * prints, per key, the partition among each count given as arguments, space-separated.
 * Used by test/integration/kafka-partitioner.integration.test.ts (run with `java` on Kafka's jars).
 */
public class KeyPartitions {
  public static void main(String[] args) throws Exception {
    int[] counts = new int[args.length];
    for (int i = 0; i < args.length; i++) counts[i] = Integer.parseInt(args[i]);
    StringSerializer serializer = new StringSerializer();
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    StringBuilder out = new StringBuilder();
    String key;
    while ((key = in.readLine()) != null) {
      byte[] bytes = serializer.serialize("t", key);
      for (int i = 0; i < counts.length; i++) {
        if (i > 0) out.append(' ');
        out.append(BuiltInPartitioner.partitionForKey(bytes, counts[i]));
      }
      out.append('\n');
    }
    System.out.print(out);
  }
}

/*
 * UnwrapOracle - the reference for tests/integration/test_0016_unwrap.py:
 * Debezium's own io.debezium.transforms.ExtractNewRecordState, run on the
 * records given, inside the same Kafka Connect machinery a worker uses
 * (JsonConverter in, the transform, JsonConverter out, SimpleHeaderConverter
 * for headers). Compiled by the test against the installed Kafka and
 * Debezium jars.
 *
 *   java UnwrapOracle [out.schemas.enable=false] [smt.key=value ...] < records
 *
 * Input: one record per line, its value as JsonConverter wrote it with
 * schemas, base64, or "-" for a tombstone. Output: one line per record,
 * "DROP", or "V <value base64 or -> [<header name>=<base64 or ->]...".
 */
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;

import org.apache.kafka.connect.data.SchemaAndValue;
import org.apache.kafka.connect.header.Header;
import org.apache.kafka.connect.json.JsonConverter;
import org.apache.kafka.connect.source.SourceRecord;
import org.apache.kafka.connect.storage.SimpleHeaderConverter;

import io.debezium.transforms.ExtractNewRecordState;

public class UnwrapOracle {
    public static void main(String[] args) throws Exception {
        Map<String, String> smt = new HashMap<>();
        String schemas = "true";
        for (String a : args) {
            int i = a.indexOf('=');
            String k = a.substring(0, i), v = a.substring(i + 1);
            if (k.equals("out.schemas.enable")) schemas = v;
            else smt.put(k, v);
        }
        JsonConverter in = new JsonConverter();
        in.configure(Map.of("schemas.enable", "true", "converter.type", "value"));
        JsonConverter out = new JsonConverter();
        out.configure(Map.of("schemas.enable", schemas, "converter.type", "value"));
        SimpleHeaderConverter hc = new SimpleHeaderConverter();
        hc.configure(Map.of());
        ExtractNewRecordState<SourceRecord> t = new ExtractNewRecordState<>();
        t.configure(smt);
        Base64.Encoder b64 = Base64.getEncoder();
        BufferedReader r = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        StringBuilder o = new StringBuilder();
        for (String line; (line = r.readLine()) != null;) {
            line = line.trim();
            if (line.isEmpty()) continue;
            SchemaAndValue v = line.equals("-") ? SchemaAndValue.NULL
                    : in.toConnectData("t", Base64.getDecoder().decode(line));
            SourceRecord rec = new SourceRecord(null, null, "t", null, null, null, v.schema(), v.value());
            SourceRecord res = t.apply(rec);
            if (res == null) {
                o.append("DROP\n");
                continue;
            }
            byte[] ob = out.fromConnectData("t", res.valueSchema(), res.value());
            o.append("V ").append(ob == null ? "-" : b64.encodeToString(ob));
            for (Header h : res.headers()) {
                byte[] hb = hc.fromConnectHeader("t", h.key(), h.schema(), h.value());
                o.append(' ').append(h.key()).append('=').append(hb == null ? "-" : b64.encodeToString(hb));
            }
            o.append('\n');
        }
        t.close();
        System.out.print(o);
    }
}

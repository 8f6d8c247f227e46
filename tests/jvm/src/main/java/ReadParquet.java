/*
 * ReadParquet - read a local Parquet file with parquet-java and print it as
 * JSON lines, for tests that compare its view with other readers'.
 *
 *   java -cp 'classes:lib/*' ReadParquet FILE...
 *
 * Output, UTF-8, one JSON document per line; for each FILE in turn:
 *   first: {"file": "FILE", "schema": "<MessageType as parquet-java prints it>",
 *            "columns": [{"name", "physical", "logical", "repetition"}...],
 *            "num_rows": N, "row_groups": G, "created_by": "...",
 *            "kv": {key: value...}}
 *   then one line per row: [value...], in schema order, where an
 *   absent optional value is null, BINARY with a string annotation is a
 *   string, other BINARY is an array of unsigned bytes, INT32/INT64 (also
 *   timestamps, as their raw int64) are numbers, BOOLEAN true/false,
 *   FLOAT/DOUBLE numbers (non-finite ones as strings).
 *   last: {"rows_read": N}, or {"file": "FILE", "error": "..."} when the
 *   file could not be read (the next file is still read)
 *
 * Pages are read with CRC verification on, so a wrong page checksum fails
 * the read. Only flat schemas (primitive columns at the top level) are
 * supported, which is what datapipe writes; anything else exits 2.
 * One JVM reads many files, as its start takes seconds.
 * Exit codes: 0 all read, 1 a file could not be read, 2 usage or unsupported.
 */
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.Map;

import org.apache.parquet.ParquetReadOptions;
import org.apache.parquet.column.page.PageReadStore;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.example.data.simple.convert.GroupRecordConverter;
import org.apache.parquet.hadoop.ParquetFileReader;
import org.apache.parquet.hadoop.metadata.FileMetaData;
import org.apache.parquet.hadoop.metadata.ParquetMetadata;
import org.apache.parquet.io.ColumnIOFactory;
import org.apache.parquet.io.LocalInputFile;
import org.apache.parquet.io.MessageColumnIO;
import org.apache.parquet.io.RecordReader;
import org.apache.parquet.io.api.Binary;
import org.apache.parquet.schema.LogicalTypeAnnotation;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.PrimitiveType;
import org.apache.parquet.schema.Type;

public final class ReadParquet {
    private ReadParquet() {}

    /* json: s as a JSON string literal; everything below U+0020, the quote
     * and the backslash escaped, the rest written as it is (UTF-8 out). */
    static String json(String s) {
        StringBuilder b = new StringBuilder(s.length() + 2);
        b.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"': b.append("\\\""); break;
                case '\\': b.append("\\\\"); break;
                case '\n': b.append("\\n"); break;
                case '\r': b.append("\\r"); break;
                case '\t': b.append("\\t"); break;
                default:
                    if (c < 0x20 || Character.isSurrogate(c) && !validSurrogate(s, i)) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
            }
        }
        return b.append('"').toString();
    }

    /* validSurrogate: s[i] is half of a well-formed surrogate pair. */
    static boolean validSurrogate(String s, int i) {
        char c = s.charAt(i);
        if (Character.isHighSurrogate(c)) {
            return i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1));
        }
        return i > 0 && Character.isHighSurrogate(s.charAt(i - 1));
    }

    static boolean isString(PrimitiveType p) {
        LogicalTypeAnnotation l = p.getLogicalTypeAnnotation();
        return l instanceof LogicalTypeAnnotation.StringLogicalTypeAnnotation
                || l instanceof LogicalTypeAnnotation.EnumLogicalTypeAnnotation
                || l instanceof LogicalTypeAnnotation.JsonLogicalTypeAnnotation;
    }

    static String value(Group g, int field, PrimitiveType p) {
        switch (p.getPrimitiveTypeName()) {
            case BOOLEAN:
                return Boolean.toString(g.getBoolean(field, 0));
            case INT32:
                return Integer.toString(g.getInteger(field, 0));
            case INT64:
                return Long.toString(g.getLong(field, 0));
            case FLOAT: {
                float f = g.getFloat(field, 0);
                return Float.isFinite(f) ? Float.toString(f) : json(Float.toString(f));
            }
            case DOUBLE: {
                double d = g.getDouble(field, 0);
                return Double.isFinite(d) ? Double.toString(d) : json(Double.toString(d));
            }
            case BINARY:
            case FIXED_LEN_BYTE_ARRAY: {
                Binary bin = g.getBinary(field, 0);
                if (isString(p)) {
                    return json(bin.toStringUsingUTF8());
                }
                byte[] bytes = bin.getBytes();
                StringBuilder b = new StringBuilder("[");
                for (int i = 0; i < bytes.length; i++) {
                    if (i > 0) b.append(',');
                    b.append(bytes[i] & 0xff);
                }
                return b.append(']').toString();
            }
            default:
                throw new UnsupportedOperationException("type " + p.getPrimitiveTypeName());
        }
    }

    public static void main(String[] args) {
        if (args.length == 0) {
            System.err.println("usage: ReadParquet FILE.parquet...");
            System.exit(2);
        }
        PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
        int rc = 0;
        for (String a : args) {
            Path path = Paths.get(a);
            try {
                long n = readOne(out, path);
                out.println("{\"rows_read\":" + n + "}");
            } catch (IOException | RuntimeException e) {
                out.println("{\"file\":" + json(a) + ",\"error\":" + json(e.toString()) + "}");
                System.err.println("ReadParquet: " + path + ": " + e);
                rc = 1;
            }
        }
        out.flush();
        if (out.checkError()) rc = 1;
        System.exit(rc);
    }

    /* readOne: print path's header line and rows; returns the rows read. */
    static long readOne(PrintStream out, Path path) throws IOException {
        ParquetReadOptions opts = ParquetReadOptions.builder().usePageChecksumVerification(true).build();
        long rowsRead = 0;
        try (ParquetFileReader reader = ParquetFileReader.open(new LocalInputFile(path), opts)) {
            ParquetMetadata footer = reader.getFooter();
            FileMetaData meta = footer.getFileMetaData();
            MessageType schema = meta.getSchema();
            List<Type> fields = schema.getFields();
            StringBuilder head = new StringBuilder("{\"file\":").append(json(path.toString()));
            head.append(",\"schema\":").append(json(schema.toString()));
            head.append(",\"columns\":[");
            for (int i = 0; i < fields.size(); i++) {
                Type t = fields.get(i);
                if (!t.isPrimitive()) {
                    System.err.println("ReadParquet: " + path + ": nested column \"" + t.getName()
                                       + "\" not supported");
                    System.exit(2);
                }
                PrimitiveType p = t.asPrimitiveType();
                LogicalTypeAnnotation l = p.getLogicalTypeAnnotation();
                if (i > 0) head.append(',');
                head.append("{\"name\":").append(json(t.getName()))
                    .append(",\"physical\":").append(json(p.getPrimitiveTypeName().name()))
                    .append(",\"logical\":").append(l == null ? "null" : json(l.toString()))
                    .append(",\"repetition\":").append(json(t.getRepetition().name()))
                    .append('}');
            }
            head.append("],\"num_rows\":").append(reader.getRecordCount());
            head.append(",\"row_groups\":").append(footer.getBlocks().size());
            head.append(",\"created_by\":").append(json(String.valueOf(meta.getCreatedBy())));
            head.append(",\"kv\":{");
            boolean first = true;
            for (Map.Entry<String, String> e : meta.getKeyValueMetaData().entrySet()) {
                if (!first) head.append(',');
                first = false;
                head.append(json(e.getKey())).append(':').append(json(e.getValue()));
            }
            head.append("}}");
            out.println(head);

            MessageColumnIO io = new ColumnIOFactory().getColumnIO(schema);
            PageReadStore pages;
            while ((pages = reader.readNextRowGroup()) != null) {
                long n = pages.getRowCount();
                RecordReader<Group> rr = io.getRecordReader(pages, new GroupRecordConverter(schema));
                for (long r = 0; r < n; r++) {
                    Group g = rr.read();
                    StringBuilder row = new StringBuilder("[");
                    for (int i = 0; i < fields.size(); i++) {
                        if (i > 0) row.append(',');
                        int count = g.getFieldRepetitionCount(i);
                        if (count == 0) {
                            row.append("null");
                        } else {
                            row.append(value(g, i, fields.get(i).asPrimitiveType()));
                        }
                    }
                    out.println(row.append(']'));
                    rowsRead++;
                }
            }
        }
        return rowsRead;
    }
}

// GenExpected records what Java 17's java.util.Properties makes of every
// *.properties file in the directories given as arguments. For NAME.properties
// it writes NAME.json:
//
//   {"utf8": RESULT, "latin1": RESULT}
//
// where "utf8" is load(Reader) over an InputStreamReader for UTF-8 and
// "latin1" is load(InputStream) (ISO-8859-1), and RESULT is either
// {"map": {"key": "value", ...}} or {"error": "exception message"}.
// Strings are JSON with every character outside U+0020..U+007E escaped as
// \\uXXXX (UTF-16 units, so lone surrogates stay visible), keys sorted.
//
// Regenerate (from the properties directory; see testdata/README.md):
//
//   java testdata/java/GenExpected.java testdata/load testdata/store
import java.io.*;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.util.*;

public class GenExpected {
    public static void main(String[] args) throws IOException {
        for (String dir : args) {
            File[] files = new File(dir).listFiles((d, n) -> n.endsWith(".properties"));
            if (files == null) throw new IOException("not a directory: " + dir);
            Arrays.sort(files);
            for (File f : files) {
                String base = f.getPath().substring(0, f.getPath().length() - ".properties".length());
                StringBuilder sb = new StringBuilder();
                sb.append("{\"utf8\": ");
                try (Reader r = new InputStreamReader(new FileInputStream(f), StandardCharsets.UTF_8)) {
                    Properties p = new Properties();
                    try {
                        p.load(r);
                        map(sb, p);
                    } catch (IllegalArgumentException e) {
                        error(sb, e);
                    }
                }
                sb.append(",\n \"latin1\": ");
                try (InputStream in = new FileInputStream(f)) {
                    Properties p = new Properties();
                    try {
                        p.load(in);
                        map(sb, p);
                    } catch (IllegalArgumentException e) {
                        error(sb, e);
                    }
                }
                sb.append("}\n");
                Files.write(Paths.get(base + ".json"), sb.toString().getBytes(StandardCharsets.US_ASCII));
            }
        }
    }

    static void map(StringBuilder sb, Properties p) {
        TreeMap<String, String> m = new TreeMap<>();
        for (String k : p.stringPropertyNames()) m.put(k, p.getProperty(k));
        sb.append("{\"map\": {");
        boolean first = true;
        for (Map.Entry<String, String> e : m.entrySet()) {
            sb.append(first ? "\n  " : ",\n  ");
            first = false;
            str(sb, e.getKey());
            sb.append(": ");
            str(sb, e.getValue());
        }
        sb.append("}}");
    }

    static void error(StringBuilder sb, Exception e) {
        sb.append("{\"error\": ");
        str(sb, e.getMessage());
        sb.append("}");
    }

    static void str(StringBuilder sb, String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '"' || c == '\\') {
                sb.append('\\').append(c);
            } else if (c < 0x20 || c > 0x7e) {
                sb.append(String.format("\\u%04x", (int) c));
            } else {
                sb.append(c);
            }
        }
        sb.append('"');
    }
}

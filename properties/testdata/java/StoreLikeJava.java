// StoreLikeJava writes what Java 17's Properties.store writes for a map, so
// that TestStoreBytesLikeJava can compare our Store output byte for byte
// (apart from the order of the entries and Java's date line).
//
//   java testdata/java/StoreLikeJava.java IN COMMENT OUT_LATIN1 OUT_UTF8
//
// IN is a .properties file in ISO-8859-1 (our StoreLatin1 output), loaded
// with load(InputStream). COMMENT is a UTF-8 file holding the comment, or
// "-" for none. OUT_LATIN1 gets store(OutputStream, comment) and OUT_UTF8
// store(Writer, comment) over a UTF-8 OutputStreamWriter.
import java.io.*;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.util.*;

public class StoreLikeJava {
    public static void main(String[] args) throws IOException {
        Properties p = new Properties();
        try (InputStream in = new FileInputStream(args[0])) {
            p.load(in);
        }
        String comment = args[1].equals("-") ? null
                : new String(Files.readAllBytes(Paths.get(args[1])), StandardCharsets.UTF_8);
        try (OutputStream out = new FileOutputStream(args[2])) {
            p.store(out, comment);
        }
        try (Writer w = new OutputStreamWriter(new FileOutputStream(args[3]), StandardCharsets.UTF_8)) {
            p.store(w, comment);
        }
    }
}

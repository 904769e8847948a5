// JavaMailSend: the oracle of the integration suite. It sends one small
// message per job the way a JavaMail application configured by a
// .properties file does, so a test can hold what JavaMail makes of a
// property against what our session does, on the wire of a recording
// server.
//
// Usage: java -cp <mail jars>:<classes> JavaMailSend <jobs-file>
//
// Each line of the jobs file is  <props-file> TAB <from> TAB <to>[,<to>...] TAB <text>
// (<text> the message text, UTF-8, with "\\n" for a line break)
// (an empty <from> leaves the From header unset, so JavaMail chooses the
// envelope sender from mail.smtp.from / mail.from). For each job it prints
// one line:  <props-file> TAB OK  or  <props-file> TAB FAIL <class>: <message>
// (nested exceptions appended with " / ").
//
// Per job: java.util.Properties.load(InputStream) (ISO-8859-1, as Liferay
// and most JavaMail users read their files), Session.getInstance(props),
// session.getTransport() (mail.transport.protocol), connect(),
// sendMessage(msg, msg.getAllRecipients()), close(). A password in the file
// (mail.<protocol>.password, then mail.smtp.password, then mail.password:
// keys JavaMail itself does not read) is given to JavaMail the way an
// application does: an Authenticator answering with JavaMail's default
// user name (mail.<protocol>.user, else mail.user) and that password.
// Without a password no Authenticator is installed.
//
// The source is written for javax.mail (JavaMail 1.6); .ci/javamail.sh
// derives the jakarta.mail (Jakarta Mail 2.0) variant with sed.

import java.io.BufferedReader;
import java.io.FileInputStream;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.Properties;

import javax.mail.Authenticator;
import javax.mail.Message;
import javax.mail.MessagingException;
import javax.mail.PasswordAuthentication;
import javax.mail.Session;
import javax.mail.Transport;
import javax.mail.internet.InternetAddress;
import javax.mail.internet.MimeMessage;

public class JavaMailSend {
	public static void main(String[] args) throws Exception {
		if (args.length != 1) {
			System.err.println("usage: JavaMailSend <jobs-file>");
			System.exit(2);
		}
		try (BufferedReader r = new BufferedReader(new InputStreamReader(
				new FileInputStream(args[0]), StandardCharsets.UTF_8))) {
			String line;
			while ((line = r.readLine()) != null) {
				if (line.isEmpty()) {
					continue;
				}
				String[] f = line.split("\t", -1);
				if (f.length != 4) {
					System.out.println(f[0] + "\tFAIL harness: bad job line");
					continue;
				}
				System.out.println(f[0] + "\t" + run(f[0], f[1], f[2], f[3].replace("\\n", "\n")));
				System.out.flush();
			}
		}
	}

	static String run(String propsFile, String from, String to, String text) {
		try {
			Properties props = new Properties();
			try (InputStream in = new FileInputStream(propsFile)) {
				props.load(in);
			}
			String protocol = props.getProperty("mail.transport.protocol", "smtp");
			String pw = props.getProperty("mail." + protocol + ".password");
			if (pw == null) {
				pw = props.getProperty("mail.smtp.password");
			}
			if (pw == null) {
				pw = props.getProperty("mail.password");
			}
			Session session;
			if (pw == null) {
				session = Session.getInstance(props);
			} else {
				final String password = pw;
				session = Session.getInstance(props, new Authenticator() {
					@Override
					protected PasswordAuthentication getPasswordAuthentication() {
						return new PasswordAuthentication(getDefaultUserName(), password);
					}
				});
			}
			MimeMessage msg = new MimeMessage(session);
			if (!from.isEmpty()) {
				msg.setFrom(new InternetAddress(from));
			}
			msg.setRecipients(Message.RecipientType.TO, InternetAddress.parse(to));
			msg.setSubject("oracle");
			msg.setText(text, "UTF-8");
			msg.saveChanges();
			Transport t = session.getTransport();
			t.connect();
			try {
				t.sendMessage(msg, msg.getAllRecipients());
			} finally {
				t.close();
			}
			return "OK";
		} catch (Exception e) {
			return "FAIL " + describe(e);
		}
	}

	static String describe(Throwable e) {
		StringBuilder b = new StringBuilder();
		for (int depth = 0; e != null && depth < 4; depth++) {
			if (depth > 0) {
				b.append(" / ");
			}
			b.append(e.getClass().getName()).append(": ").append(e.getMessage());
			Throwable next = e.getCause();
			if (next == null && e instanceof MessagingException) {
				next = ((MessagingException) e).getNextException();
			}
			e = next;
		}
		return b.toString().replace('\r', ' ').replace('\n', ' ').replace('\t', ' ');
	}
}

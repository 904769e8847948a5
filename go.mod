module github.com/jmailgo/jmail

go 1.26

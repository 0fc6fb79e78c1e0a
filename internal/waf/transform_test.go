package waf

import (
	"crypto/md5"
	"crypto/sha256"
	"testing"
)

func TestTransformations(t *testing.T) {
	md := md5.Sum([]byte("abc"))
	sh := sha256.Sum256([]byte("abc"))
	cases := []struct {
		typ, in, want string
	}{
		{"NONE", "A b%20", "A b%20"},
		{"COMPRESS_WHITE_SPACE", "a \t\n\r\v\f\xa0 b  c", "a b c"},
		{"HTML_ENTITY_DECODE", "&lt;script&gt;&quot;&amp;&nbsp;&#x41;&#66;&#x43x&bogus;", "<script>\"&\xa0ABCx&bogus;"},
		{"HTML_ENTITY_DECODE", "no entities", "no entities"},
		{"LOWERCASE", "SeLeCt", "select"},
		{"UPPERCASE", "SeLeCt", "SELECT"},
		{"CMD_LINE", `C^m"d.E'x\e  /c  ,;dir (x)`, "cmd.exe/c dir(x)"},
		{"CMD_LINE_WIN", `p^o^w^e^r^s^h^e^l^l`, "powershell"},
		{"CMD_LINE_UNIX", "c$@a``t /etc/pa'ss'wd;{ls,-l}", "cat/etc/passwd ls -l"},
		{"URL_DECODE", "a%20b+c%2", "a b c%2"},
		{"URL_DECODE", "%3Cscript%3e%zz", "<script>%zz"},
		{"URL_DECODE_UNI", "%u0041%uFF1C%41%u00", "A<A%u00"},
		{"BASE64_DECODE", "c2VsZWN0", "select"},
		{"BASE64_DECODE", "c2VsZWN0IDE=", "select 1"},
		{"BASE64_DECODE", "c2Vs ZWN0", "sel"},
		{"BASE64_DECODE_EXT", "c2Vs.ZWN0", "select"},
		{"BASE64_DECODE_EXT", "P-8_", "?\xef?"},
		{"HEX_DECODE", "414243zz", "ABC"},
		{"MD5", "abc", string(md[:])},
		{"SHA256", "abc", string(sh[:])},
		{"REPLACE_COMMENTS", "se/**/lect/* x */1/* open", "se lect 1 "},
		{"REMOVE_COMMENTS_CHAR", "se/**/lect--1#x", "select1x"},
		{"ESCAPE_SEQ_DECODE", `a\nb\x41\101\q\\`, "a\nbAAq\\"},
		{"SQL_HEX_DECODE", "select 0x414243, 0x1", "select ABC, 0x1"},
		{"CSS_DECODE", `\3c script\3e \ff1c x\
y\z`, "<script><xyz"},
		{"JS_DECODE", `\u003cscript\x3e\101\uFF1C\u4e2d`, "<script>A<-"},
		{"JS_DECODE_EXT", `\u{3c}\u4e2d\x41`, "<中A"},
		{"NORMALIZE_PATH", "/a//b/./c/../d/", "/a/b/d/"},
		{"NORMALIZE_PATH", "/../../etc/passwd", "/etc/passwd"},
		{"NORMALIZE_PATH", "a/../../b", "../b"},
		{"NORMALIZE_PATH_WIN", `C:\a\..\b\\c`, "C:/b/c"},
		{"REMOVE_NULLS", "a\x00b\x00", "ab"},
		{"REPLACE_NULLS", "a\x00b", "a b"},
		{"UTF8_TO_UNICODE", "aé中", "a%u00e9%u4e2d"},
		{"REMOVE_WHITESPACE", " s e\tl\ne c t ", "select"},
		{"TRIM", " \t x y \n", "x y"},
		{"TRIM_LEFT", " \t x y \n", "x y \n"},
		{"TRIM_RIGHT", " \t x y \n", " \t x y"},
	}
	covered := map[string]bool{}
	for _, c := range cases {
		covered[c.typ] = true
		t.Run(c.typ, func(t *testing.T) {
			if got := transforms[c.typ](c.in); got != c.want {
				t.Fatalf("%s(%q) = %q, want %q", c.typ, c.in, got, c.want)
			}
		})
	}
	for typ := range transforms {
		if !covered[typ] {
			t.Errorf("transformation %s has no case", typ)
		}
	}
}

// TestTransformationOrder: transformations run by ascending Priority,
// whatever their order in the list.
func TestTransformationOrder(t *testing.T) {
	ts, err := compileTransforms([]TextTransformation{{Priority: 2, Type: "LOWERCASE"}, {Priority: 1, Type: "BASE64_DECODE"}}, "x")
	if err != nil {
		t.Fatal(err)
	}
	// base64 first: "U0VMRUNU" is SELECT; lowercase first would decode
	// "u0vmrunu" into bytes that are not "select".
	if got := applyTransforms(ts, "U0VMRUNU"); got != "select" {
		t.Fatalf("got %q", got)
	}
	if _, err := compileTransforms([]TextTransformation{{Priority: 1, Type: "NONE"}, {Priority: 1, Type: "LOWERCASE"}}, "x"); err == nil {
		t.Fatal("a priority used twice was accepted")
	}
}

func FuzzTransformations(f *testing.F) {
	for _, s := range []string{"/a/../b", "%u0041%41+", `\u{3c}\x41\101`, "&#x41;&lt;", "0x4142", "/*c*/--#", "c2VsZWN0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for typ, tr := range transforms {
			out := tr(s)
			switch typ {
			case "NORMALIZE_PATH", "NORMALIZE_PATH_WIN", "COMPRESS_WHITE_SPACE", "LOWERCASE", "REMOVE_NULLS",
				"REMOVE_WHITESPACE", "TRIM", "CMD_LINE", "CMD_LINE_UNIX":
				if again := tr(out); again != out {
					t.Fatalf("%s is not idempotent on %q: %q then %q", typ, s, out, again)
				}
			case "URL_DECODE", "HTML_ENTITY_DECODE", "JS_DECODE", "CSS_DECODE", "ESCAPE_SEQ_DECODE", "SQL_HEX_DECODE",
				"REPLACE_COMMENTS", "REMOVE_COMMENTS_CHAR", "HEX_DECODE", "BASE64_DECODE":
				if len(out) > len(s) {
					t.Fatalf("%s grew %q to %q", typ, s, out)
				}
			}
		}
	})
}
